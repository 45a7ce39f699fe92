import { Permission } from '@tether/protocol';
import { lazy, Suspense, useEffect } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import { useAuth } from '../auth/auth-context';
import { useUserSettings } from '../lib/settings';
import { applyTheme } from '../lib/theme';

// xterm and its addons are the bulk of the bundle; the login page does not need them.
const TerminalWorkspace = lazy(() =>
  import('../terminal/terminal-workspace').then((m) => ({ default: m.TerminalWorkspace })),
);

const TITLES: Record<string, string> = {
  '/terminals': 'Terminals',
  '/admin': 'Dashboard',
  '/admin/users': 'Users',
  '/admin/terminals': 'All terminals',
  '/admin/audit': 'Audit log',
  '/admin/sessions': 'Sessions',
  '/credentials': 'Credentials',
  '/account': 'Account',
  '/settings': 'Settings',
};

export function AppShell() {
  const auth = useAuth();
  const location = useLocation();
  const onTerminals = location.pathname === '/terminals';
  const canUsers = auth.hasPermission(Permission.USERS_MANAGE);
  const canSessions = canUsers || auth.hasPermission(Permission.SESSIONS_MANAGE);
  const canMonitor = auth.hasPermission(Permission.SYSTEM_MONITOR);
  const canTerminals = auth.hasPermission(Permission.TERMINALS_MANAGE);
  const canAudit = auth.hasPermission(Permission.AUDIT_READ);
  const anyAdmin = canUsers || canSessions || canMonitor || canTerminals || canAudit;

  const { theme } = useUserSettings();
  useEffect(() => applyTheme(theme), [theme]);

  useEffect(() => {
    const t = TITLES[location.pathname];
    document.title = t ? `${t} · Tether` : 'Tether';
  }, [location.pathname]);

  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            &gt;_
          </span>
          Tether
        </div>
        <nav className="nav" aria-label="Main">
          <NavLink to="/terminals" className="nav-link">
            Terminals
          </NavLink>
          <NavLink to="/credentials" className="nav-link">
            Credentials
          </NavLink>
          {anyAdmin && (
            <span className="nav-group">
              <span className="nav-group-label" aria-hidden="true">
                Admin
              </span>
              {canMonitor && (
                <NavLink to="/admin" end className="nav-link">
                  Dashboard
                </NavLink>
              )}
              {canUsers && (
                <NavLink to="/admin/users" className="nav-link">
                  Users
                </NavLink>
              )}
              {canSessions && (
                <NavLink to="/admin/sessions" className="nav-link">
                  Sessions
                </NavLink>
              )}
              {canTerminals && (
                <NavLink to="/admin/terminals" className="nav-link">
                  All terminals
                </NavLink>
              )}
              {canAudit && (
                <NavLink to="/admin/audit" className="nav-link">
                  Audit log
                </NavLink>
              )}
            </span>
          )}
          <NavLink to="/settings" className="nav-link">
            Settings
          </NavLink>
          <NavLink to="/account" className="nav-link">
            Account
          </NavLink>
        </nav>
        <div className="topbar-user">
          <span className="user-name" data-testid="current-user">
            {auth.user?.username}
          </span>
          {auth.user?.role === 'admin' && <span className="badge">admin</span>}
          <button type="button" className="btn btn-ghost" onClick={() => void auth.logout()}>
            Sign out
          </button>
        </div>
      </header>
      <div className="shell-body">
        <Suspense fallback={onTerminals ? <div className="page-loading">Loading terminals…</div> : null}>
          <TerminalWorkspace visible={onTerminals} />
        </Suspense>
        {!onTerminals && (
          <main className="page" aria-label={TITLES[location.pathname] ?? 'Page'}>
            <Outlet />
          </main>
        )}
      </div>
    </div>
  );
}
