"""ORM models; importing this package registers every table on `Base.metadata`."""

from auterity.models import audit as audit  # noqa: F401 - registers audit tables
from auterity.models import gateway as gateway  # noqa: F401 - registers the gateway tables
from auterity.models import graphs as graphs  # noqa: F401 - registers graph tables
from auterity.models import identity as identity  # noqa: F401 - registers identity tables
from auterity.models import secrets as secrets  # noqa: F401 - registers the secrets table
from auterity.models import sso as sso  # noqa: F401 - registers the SSO and SCIM tables
from auterity.models import triggers as triggers  # noqa: F401 - registers trigger tables
from auterity.models.base import Base, TenantOwned, new_id, utcnow
from auterity.models.tasks import HumanTask as HumanTask
from auterity.models.tenancy import Tenant, User

__all__ = ["Base", "Tenant", "TenantOwned", "User", "new_id", "utcnow"]
