import { Permission } from '@tether/protocol';
import type { ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useAuth } from './auth/auth-context';
import { AccountPage } from './pages/account-page';
import { AdminSessionsPage } from './pages/admin-sessions-page';
import { AdminUsersPage } from './pages/admin-users-page';
import { AppShell } from './pages/app-shell';
import { LoginPage } from './pages/login-page';

function RequireAuth({ children }: { children: ReactNode }) {
  const { session } = useAuth();
  const location = useLocation();
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
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
        <Route path="admin" element={<Navigate to="/admin/users" replace />} />
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
        <Route path="account" element={<AccountPage />} />
        <Route path="*" element={<Navigate to="/terminals" replace />} />
      </Route>
    </Routes>
  );
}
