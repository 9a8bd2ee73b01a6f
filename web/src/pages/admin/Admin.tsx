import { NavLink, Navigate, Route, Routes } from "react-router-dom";
import { useMe } from "../../api/hooks";
import { UsersPage, RolesPage } from "./People";
import { ApiKeysPage, SecretsPage } from "./Credentials";
import { TriggersPage, SchedulesPage } from "./Triggers";
import { AuditPage } from "./Audit";
import { SsoPage } from "./Sso";

const SECTIONS = [
  { to: "users", label: "Users", permission: "users:manage" },
  { to: "roles", label: "Roles", permission: "users:manage" },
  { to: "api-keys", label: "API keys", permission: "users:manage" },
  { to: "secrets", label: "Secrets", permission: "secrets:manage" },
  { to: "sso", label: "Single sign-on", permission: "sso:manage" },
  { to: "triggers", label: "Webhooks", permission: "triggers:manage" },
  { to: "schedules", label: "Schedules", permission: "executions:read" },
  { to: "audit", label: "Audit trail", permission: "audit:read" },
];

export default function AdminPage() {
  const me = useMe();
  const allowed = SECTIONS.filter((section) => !me.data || me.data.permissions.includes(section.permission));
  return (
    <div className="mx-auto flex max-w-7xl flex-col gap-4 p-4 sm:flex-row sm:p-6">
      <nav aria-label="Administration" className="flex shrink-0 gap-1 overflow-x-auto sm:w-44 sm:flex-col">
        {allowed.map((section) => (
          <NavLink
            key={section.to}
            to={`/admin/${section.to}`}
            className={({ isActive }) => `whitespace-nowrap rounded-md px-3 py-1.5 text-sm ${isActive ? "bg-indigo-50 font-medium text-indigo-800" : "text-slate-700 hover:bg-slate-100"}`}
          >
            {section.label}
          </NavLink>
        ))}
      </nav>
      <div className="min-w-0 flex-1">
        <Routes>
          <Route index element={allowed[0] ? <Navigate to={allowed[0].to} replace /> : <p className="text-sm text-slate-700">Nothing to administer with your roles.</p>} />
          <Route path="users" element={<UsersPage />} />
          <Route path="roles" element={<RolesPage />} />
          <Route path="api-keys" element={<ApiKeysPage />} />
          <Route path="secrets" element={<SecretsPage />} />
          <Route path="sso" element={<SsoPage />} />
          <Route path="triggers" element={<TriggersPage />} />
          <Route path="schedules" element={<SchedulesPage />} />
          <Route path="audit" element={<AuditPage />} />
        </Routes>
      </div>
    </div>
  );
}
