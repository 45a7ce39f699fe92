import type { AdminStatus } from '@tether/protocol';
import { type ReactNode, useId } from 'react';
import { type Column, DataTable } from '../components/data-table';
import { ErrorNotice } from '../components/notice';
import { absoluteTime, formatBytes, formatDuration, formatPercent } from '../lib/format';
import { useApiQuery } from '../lib/queries';

const REFRESH_MS = 5_000;

const NODE_COLUMNS: Column<AdminStatus['nodes'][number]>[] = [
  { header: 'Node', className: 'mono', cell: (n) => `${n.id}${n.local ? ' (this node)' : ''}` },
  {
    header: 'State',
    cell: (n) => <span className={n.state === 'unreachable' ? 'text-danger' : undefined}>{n.state}</span>,
  },
  {
    header: 'Last heartbeat',
    title: (n) => absoluteTime(n.heartbeatAt),
    cell: (n) => `${formatDuration(n.heartbeatAgeMs / 1000)} ago`,
  },
  { header: 'Version', cell: (n) => n.version },
  { header: 'Started', cell: (n) => absoluteTime(n.startedAt) },
];

const NETWORK_COLUMNS: Column<AdminStatus['network'][number]>[] = [
  { header: 'Interface', className: 'mono', cell: (n) => n.interface },
  { header: 'Received', cell: (n) => formatBytes(n.rxBytes) },
  { header: 'Sent', cell: (n) => formatBytes(n.txBytes) },
  { header: 'Errors (rx / tx)', cell: (n) => `${n.rxErrors} / ${n.txErrors}` },
];

/** System status of the broker process serving this page, refreshed every 5 s. */
export function AdminDashboardPage() {
  const status = useApiQuery<AdminStatus>('admin/status', { pollMs: REFRESH_MS });
  const { paused, dataUpdatedAt: updatedAt } = status;
  const s = status.data;

  return (
    <div className="page-inner page-wide">
      <div className="page-head">
        <h1>Dashboard</h1>
        <span className="muted small" role="status">
          {paused
            ? 'Auto-refresh paused while you are away.'
            : updatedAt
              ? `Updated ${new Date(updatedAt).toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`
              : ''}
        </span>
        <span className="spacer" />
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => void status.refetch()}>
          Refresh
        </button>
      </div>
      <ErrorNotice error={status.error} />
      {status.isPending && <p className="muted">Loading…</p>}
      {s && <StatusGrid s={s} />}
    </div>
  );
}

function StatusGrid({ s }: { s: AdminStatus }) {
  const { limits } = s.connections;
  const memUsed = s.memory.systemTotalBytes - s.memory.systemFreeBytes;
  const diskUsed = s.disk ? s.disk.totalBytes - s.disk.freeBytes : 0;
  return (
    <div className="stat-grid">
      <Card title="Connections">
        <Big value={s.connections.websockets} of={limits.maxConnections} unit="sockets" />
        <Meter label="Connections used" value={s.connections.websockets} max={limits.maxConnections} />
        <Stats
          rows={[
            ['SSH sessions', s.connections.sshSessions],
            ['Max connections', limits.maxConnections],
            ['Max terminals per user', limits.maxTerminalsPerUser],
          ]}
        />
      </Card>
      <Card title="Terminals">
        <Big value={s.terminals.running} unit="running" />
        <Stats
          rows={[
            ['Detached', s.terminals.detached],
            ['Viewers', s.terminals.viewers],
            ['Recently ended', s.terminals.ended],
            ['Output buffers', formatBytes(s.terminals.ringBytes)],
            ['Detached timeout', formatDuration(limits.terminalDetachedTimeoutMs / 1000)],
          ]}
        />
      </Card>
      <Card title="Users">
        {s.users ? (
          <>
            <Big value={s.users.online} of={s.users.total} unit="online" />
            <Stats
              rows={[
                ['Users online', s.users.online],
                ['Live sessions', s.users.liveSessions],
                ['Accounts', s.users.total],
              ]}
            />
          </>
        ) : (
          <p className="muted">Unavailable (database not answering).</p>
        )}
      </Card>
      <Card title="Uptime">
        <Big value={formatDuration(s.uptimeSeconds)} />
        <Stats
          rows={[
            ['Started', absoluteTime(s.startedAt)],
            ['System uptime', formatDuration(s.systemUptimeSeconds)],
          ]}
        />
      </Card>
      <Card title="Memory">
        <Big value={formatBytes(s.memory.rssBytes)} unit="RSS" />
        <Meter label="System memory used" value={memUsed} max={s.memory.systemTotalBytes} />
        <Stats
          rows={[
            ['Heap', `${formatBytes(s.memory.heapUsedBytes)} / ${formatBytes(s.memory.heapTotalBytes)}`],
            ['External', formatBytes(s.memory.externalBytes)],
            ['System', `${formatBytes(memUsed)} / ${formatBytes(s.memory.systemTotalBytes)}`],
          ]}
        />
      </Card>
      <Card title="CPU">
        <Big value={formatPercent(s.cpu.processPercent)} unit="process" />
        <Meter label="System CPU" value={s.cpu.systemPercent} max={100} />
        <Stats
          rows={[
            ['System', formatPercent(s.cpu.systemPercent)],
            ['Load (1, 5, 15 min)', s.cpu.loadAverage.map((l) => l.toFixed(2)).join('  ')],
            ['Cores', `${s.cpu.cores} × ${s.cpu.model}`],
            ['Event loop lag', `${s.cpu.eventLoopLagMs.toFixed(1)} ms`],
          ]}
        />
      </Card>
      <Card title="Disk">
        {s.disk ? (
          <>
            <Big value={formatBytes(s.disk.availableBytes)} unit="available" />
            <Meter label="Disk used" value={diskUsed} max={s.disk.totalBytes} />
            <Stats
              rows={[
                ['Used', `${formatBytes(diskUsed)} / ${formatBytes(s.disk.totalBytes)}`],
                [
                  'Data directory',
                  <span className="mono" title={s.disk.path}>
                    {s.disk.path}
                  </span>,
                ],
              ]}
            />
          </>
        ) : (
          <p className="muted">Unavailable.</p>
        )}
      </Card>
      <Card title="Server">
        <Big value={s.version} unit="version" />
        <Stats
          rows={[
            ['Hostname', <span className="mono">{s.hostname}</span>],
            ['Node', <span className="mono">{s.nodeId}</span>],
            [
              'Runtime',
              `Node ${s.runtime.node} · ${s.runtime.platform}/${s.runtime.arch} · pid ${s.runtime.pid}`,
            ],
            [
              'Database',
              <span className={s.database.status === 'ok' ? '' : 'text-danger'}>
                {s.database.driver} · {s.database.status}
                {s.database.latencyMs !== undefined ? ` · ${s.database.latencyMs} ms` : ''}
              </span>,
            ],
          ]}
        />
      </Card>
      <Card title="Nodes" wide>
        <DataTable
          rows={s.nodes}
          columns={NODE_COLUMNS}
          rowKey={(n) => n.id}
          rowProps={(n) => ({ 'data-node-id': n.id, 'data-state': n.state })}
          empty="No nodes."
        />
      </Card>
      {s.network.length > 0 && (
        <Card title="Network" wide>
          <DataTable rows={s.network} columns={NETWORK_COLUMNS} rowKey={(n) => n.interface} empty="" />
        </Card>
      )}
    </div>
  );
}

function Card({ title, wide, children }: { title: string; wide?: boolean; children: ReactNode }) {
  const id = useId();
  return (
    <section className={`card stat-card ${wide ? 'stat-wide' : ''}`} aria-labelledby={id}>
      <h2 id={id} className="stat-title">
        {title}
      </h2>
      {children}
    </section>
  );
}

function Big({ value, of, unit }: { value: ReactNode; of?: number; unit?: string }) {
  return (
    <p className="stat-big">
      <span className="stat-value">{value}</span>
      {of !== undefined && <span className="stat-of"> / {of}</span>}
      {unit && <span className="stat-unit"> {unit}</span>}
    </p>
  );
}

function Meter({ label, value, max }: { label: string; value: number; max: number }) {
  const safeMax = max > 0 ? max : 1;
  const v = Math.min(safeMax, Math.max(0, value));
  return (
    <meter
      className="meter"
      aria-label={label}
      min={0}
      max={safeMax}
      low={safeMax * 0.75}
      high={safeMax * 0.9}
      optimum={0}
      value={v}
      title={`${label}: ${Math.round((v / safeMax) * 100)} %`}
    />
  );
}

function Stats({ rows }: { rows: Array<[string, ReactNode]> }) {
  return (
    <dl className="stats">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd title={typeof v === 'string' || typeof v === 'number' ? String(v) : undefined}>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
