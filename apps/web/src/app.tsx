import { Permission } from '@tether/protocol';
import { type ComponentType, lazy, type ReactNode, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useAuth } from './auth/auth-context';
import { AccountPage } from './pages/account-page';
import { AdminSessionsPage } from './pages/admin-sessions-page';
import { AdminUsersPage } from './pages/admin-users-page';
import { AppShell } from './pages/app-shell';
import { LoginPage } from './pages/login-page';

// Pages most sessions never open load on demand, keeping the entry chunk (login) small.
const AdminDashboardPage = withSuspense(
  lazy(() => import('./pages/admin-dashboard-page').then((m) => ({ default: m.AdminDashboardPage }))),
);
const AdminTerminalsPage = withSuspense(
  lazy(() => import('./pages/admin-terminals-page').then((m) => ({ default: m.AdminTerminalsPage }))),
);
const AdminAuditPage = withSuspense(
  lazy(() => import('./pages/admin-audit-page').then((m) => ({ default: m.AdminAuditPage }))),
);
const SettingsPage = withSuspense(
  lazy(() => import('./pages/settings-page').then((m) => ({ default: m.SettingsPage }))),
);
const CredentialsPage = withSuspense(
  lazy(() => import('./pages/credentials-page').then((m) => ({ default: m.CredentialsPage }))),
);

function withSuspense(Page: ComponentType) {
  return function LazyPage() {
    return (
      <Suspense fallback={<div className="page-loading">Loading…</div>}>
        <Page />
      </Suspense>
    );
  };
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { session } = useAuth();
  const location = useLocation();
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

/** /admin is the dashboard for those who may see it, else the first admin page they may use. */
function AdminIndex() {
  const { hasPermission } = useAuth();
  if (hasPermission(Permission.SYSTEM_MONITOR)) return <AdminDashboardPage />;
  if (hasPermission(Permission.USERS_MANAGE)) return <Navigate to="/admin/users" replace />;
  if (hasPermission(Permission.SESSIONS_MANAGE)) return <Navigate to="/admin/sessions" replace />;
  if (hasPermission(Permission.TERMINALS_MANAGE)) return <Navigate to="/admin/terminals" replace />;
  if (hasPermission(Permission.AUDIT_READ)) return <Navigate to="/admin/audit" replace />;
  return <Navigate to="/terminals" replace />;
}

function RequirePermission({ any, children }: { any: string[]; children: ReactNode }) {
  const { hasPermission } = useAuth();
  if (!any.some((p) => hasPermission(p))) return <Navigate to="/terminals" replace />;
  return <>{children}</>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/"
        element={
          <RequireAuth>
            <AppShell />
          </RequireAuth>
        }
      >
        <Route index element={<Navigate to="/terminals" replace />} />
        {/* The terminal workspace is rendered by the shell itself so sockets survive navigation. */}
        <Route path="terminals" element={null} />
        <Route path="admin" element={<AdminIndex />} />
        <Route
          path="admin/users"
          element={
            <RequirePermission any={[Permission.USERS_MANAGE]}>
              <AdminUsersPage />
            </RequirePermission>
          }
        />
        <Route
          path="admin/sessions"
          element={
            <RequirePermission any={[Permission.USERS_MANAGE, Permission.SESSIONS_MANAGE]}>
              <AdminSessionsPage />
            </RequirePermission>
          }
        />
        <Route
          path="admin/terminals"
          element={
            <RequirePermission any={[Permission.TERMINALS_MANAGE]}>
              <AdminTerminalsPage />
            </RequirePermission>
          }
        />
        <Route
          path="admin/audit"
          element={
            <RequirePermission any={[Permission.AUDIT_READ]}>
              <AdminAuditPage />
            </RequirePermission>
          }
        />
        <Route path="credentials" element={<CredentialsPage />} />
        <Route path="account" element={<AccountPage />} />
        <Route path="settings" element={<SettingsPage />} />
        <Route path="*" element={<Navigate to="/terminals" replace />} />
      </Route>
    </Routes>
  );
}
