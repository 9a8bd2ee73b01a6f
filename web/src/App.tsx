import { lazy, Suspense, useEffect, useSyncExternalStore } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { session } from "./api/client";
import { Shell } from "./components/Shell";
import { Spinner } from "./components/ui";
import { LoginPage } from "./pages/Login";
import { ResumePage } from "./pages/Resume";
import { JoinPage } from "./pages/Join";
import { GraphsPage } from "./pages/Graphs";
import { RunsPage } from "./pages/Runs";
import { TemplatesPage, TemplatePage } from "./pages/Templates";
import { InboxPage, TaskPage } from "./pages/Tasks";
import { NotFoundPage } from "./pages/NotFound";

const EditorPage = lazy(() => import("./pages/Editor"));
const RunPage = lazy(() => import("./pages/Run"));
const AdminPage = lazy(() => import("./pages/admin/Admin"));

function useSignedIn(): boolean {
  return useSyncExternalStore(session.subscribe, session.signedIn);
}

/** A 401 anywhere ends the session: back to sign-in, remembering the page. */
function SessionWatch() {
  const navigate = useNavigate();
  const location = useLocation();
  const queries = useQueryClient();
  useEffect(() => {
    session.onSignedOut(() => {
      queries.clear();
      const next = location.pathname + location.search;
      if (!location.pathname.startsWith("/login")) navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
    });
  }, [navigate, location, queries]);
  return null;
}

function Private({ children }: { children: React.ReactNode }) {
  const signedIn = useSignedIn();
  const location = useLocation();
  if (!signedIn) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <Shell>{children}</Shell>;
}

export function App() {
  const loading = (
    <div className="p-6">
      <Spinner />
    </div>
  );
  return (
    <>
      <SessionWatch />
      <Suspense fallback={loading}>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/resume" element={<ResumePage />} />
          <Route path="/join" element={<JoinPage />} />
          <Route path="/" element={<Navigate to="/graphs" replace />} />
          <Route path="/graphs" element={<Private><GraphsPage /></Private>} />
          <Route path="/graphs/:graphId" element={<Private><EditorPage /></Private>} />
          <Route path="/runs" element={<Private><RunsPage /></Private>} />
          <Route path="/runs/:runId" element={<Private><RunPage /></Private>} />
          <Route path="/templates" element={<Private><TemplatesPage /></Private>} />
          <Route path="/templates/:templateId" element={<Private><TemplatePage /></Private>} />
          <Route path="/tasks" element={<Private><InboxPage /></Private>} />
          <Route path="/tasks/:taskId" element={<Private><TaskPage /></Private>} />
          <Route path="/admin/*" element={<Private><AdminPage /></Private>} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </Suspense>
    </>
  );
}
