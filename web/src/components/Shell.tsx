import { useEffect, useState, type ReactNode } from "react";
import { NavLink, useNavigate } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { logout } from "../api/client";
import { useMe } from "../api/hooks";

const LINKS: { to: string; label: string; permission?: string }[] = [
  { to: "/graphs", label: "Graphs", permission: "graphs:read" },
  { to: "/runs", label: "Runs", permission: "executions:read" },
  { to: "/templates", label: "Templates", permission: "graphs:read" },
  { to: "/tasks", label: "Inbox", permission: "executions:read" },
  { to: "/admin", label: "Admin" },
];

export function Shell({ children }: { children: ReactNode }) {
  const me = useMe();
  const navigate = useNavigate();
  const queries = useQueryClient();
  const [menu, setMenu] = useState(false);
  // Fetch the canvas code while the person reads the list, so the first graph opens at once.
  useEffect(() => {
    const idle = window.requestIdleCallback ?? ((work: () => void) => setTimeout(work, 500));
    idle(() => {
      void import("../pages/Editor");
      void import("../pages/Run");
    });
  }, []);
  const can = (permission?: string) => !permission || !me.data || me.data.permissions.includes(permission);
  return (
    <div className="flex h-full flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <header className="flex h-12 shrink-0 items-center gap-4 border-b border-slate-200 bg-white px-3 sm:px-4">
        <NavLink to="/graphs" className="flex items-center gap-2 font-semibold text-slate-900">
          <img src="/favicon.svg" alt="" className="h-6 w-6" />
          <span className="hidden sm:inline">Auterity</span>
        </NavLink>
        <nav aria-label="Main" className="flex min-w-0 flex-1 gap-1 overflow-x-auto">
          {LINKS.filter((link) => can(link.permission)).map((link) => (
            <NavLink
              key={link.to}
              to={link.to}
              className={({ isActive }) =>
                `whitespace-nowrap rounded-md px-2.5 py-1.5 text-sm font-medium ${isActive ? "bg-indigo-50 text-indigo-800" : "text-slate-700 hover:bg-slate-100"}`
              }
            >
              {link.label}
            </NavLink>
          ))}
        </nav>
        <div className="relative">
          <button
            type="button"
            aria-haspopup="menu"
            aria-expanded={menu}
            onClick={() => setMenu(!menu)}
            className="flex items-center gap-2 rounded-md px-2 py-1 text-sm text-slate-800 hover:bg-slate-100"
          >
            <span className="flex h-7 w-7 items-center justify-center rounded-full bg-indigo-100 text-xs font-semibold text-indigo-800" aria-hidden>
              {(me.data?.name ?? "?").slice(0, 1).toUpperCase()}
            </span>
            <span className="hidden max-w-40 truncate md:inline">{me.data?.name ?? "Account"}</span>
          </button>
          {menu ? (
            <div role="menu" className="absolute right-0 z-40 mt-1 w-60 rounded-md border border-slate-200 bg-white py-1 text-sm shadow-lg">
              <div className="px-3 py-2 text-xs text-slate-600">
                {me.data?.name}
                <br />
                tenant {me.data?.tenant.slug} · {me.data?.roles.join(", ")}
              </div>
              <button
                role="menuitem"
                type="button"
                className="block w-full px-3 py-2 text-left text-slate-800 hover:bg-slate-100"
                onClick={async () => {
                  setMenu(false);
                  await logout();
                  queries.clear();
                  navigate("/login");
                }}
              >
                Sign out
              </button>
            </div>
          ) : null}
        </div>
      </header>
      <main id="main" className="min-h-0 flex-1 overflow-auto">
        {children}
      </main>
    </div>
  );
}
