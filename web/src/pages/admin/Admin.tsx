import { lazy, Suspense, type ReactNode } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router-dom";
import { useMe } from "../../api/hooks";
import { ErrorBox, Spinner } from "../../components/ui";
import { UsersPage, RolesPage } from "./People";
import { ApiKeysPage, SecretsPage } from "./Credentials";
import { TriggersPage, SchedulesPage } from "./Triggers";
import { AuditPage } from "./Audit";
import { SsoPage } from "./Sso";

// The AI gateway's pages load when first opened: most visits to Admin never need them.
const RoutesPage = lazy(() => import("./Routes"));
const BudgetsPage = lazy(() => import("./Budgets"));
const SpendPage = lazy(() => import("./Spend"));
const RegistryPage = lazy(() => import("./Registry"));
const TenantPage = lazy(() => import("./Tenant"));

const SECTIONS: { to: string; label: string; permission: string; page: ReactNode }[] = [
  { to: "users", label: "Users", permission: "users:manage", page: <UsersPage /> },
  { to: "roles", label: "Roles", permission: "users:manage", page: <RolesPage /> },
  { to: "api-keys", label: "API keys", permission: "users:manage", page: <ApiKeysPage /> },
  { to: "secrets", label: "Secrets", permission: "secrets:manage", page: <SecretsPage /> },
  { to: "sso", label: "Single sign-on", permission: "sso:manage", page: <SsoPage /> },
  { to: "triggers", label: "Webhooks", permission: "triggers:manage", page: <TriggersPage /> },
  { to: "schedules", label: "Schedules", permission: "executions:read", page: <SchedulesPage /> },
  { to: "routes", label: "AI routes", permission: "routes:manage", page: <RoutesPage /> },
  { to: "budgets", label: "Budgets", permission: "budgets:manage", page: <BudgetsPage /> },
  { to: "spend", label: "Spend", permission: "spend:read", page: <SpendPage /> },
  { to: "registry", label: "Prompts & models", permission: "registry:manage", page: <RegistryPage /> },
  { to: "audit", label: "Audit trail", permission: "audit:read", page: <AuditPage /> },
  { to: "tenant", label: "Tenant settings", permission: "tenant:manage", page: <TenantPage /> },
];

export default function AdminPage() {
  const me = useMe();
  // Nothing is listed until the roles are known: a section never flashes for someone who may not use it.
  const allowed = SECTIONS.filter((section) => me.data?.permissions.includes(section.permission));
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
        <ErrorBox error={me.error} title="Your roles could not be read" />
        <Suspense fallback={<Spinner />}>
          <Routes>
            <Route index element={!me.data ? me.error ? null : <Spinner /> : allowed[0] ? <Navigate to={allowed[0].to} replace /> : <p className="text-sm text-slate-700">Nothing to administer with your roles.</p>} />
            {SECTIONS.map((section) => (
              <Route
                key={section.to}
                path={section.to}
                element={
                  // Typed straight into the address bar: the page (and its requests) only for those who may use it.
                  !me.data ? (
                    me.error ? null : <Spinner />
                  ) : me.data.permissions.includes(section.permission) ? (
                    section.page
                  ) : (
                    <p className="text-sm text-slate-700" data-testid="not-permitted">
                      {section.label} needs the {section.permission} permission, which your roles do not give.
                    </p>
                  )
                }
              />
            ))}
          </Routes>
        </Suspense>
      </div>
    </div>
  );
}
