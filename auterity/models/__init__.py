"""ORM models; importing this package registers every table on `Base.metadata`."""

from auterity.models.base import Base, TenantOwned, new_id, utcnow
from auterity.models.tenancy import Tenant, User

__all__ = ["Base", "Tenant", "TenantOwned", "User", "new_id", "utcnow"]
