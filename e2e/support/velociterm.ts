/**
 * Just enough of the VelociTerm `sessions.yaml` layout to compare an export with the file that was
 * imported: folders → sessions (display_name, host, port). Handles the block style both VelociTerm
 * and Tether write (`- folder_name: X`, `sessions:`, `- display_name: Y`), plain or quoted scalars.
 */
export interface LiteSession {
  name: string;
  host: string;
  port: string;
  deviceType: string;
  model: string;
}

function scalar(raw: string): string {
  const v = raw.trim();
  if (v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).replace(/''/g, "'");
  if (v.startsWith('"') && v.endsWith('"')) return JSON.parse(v) as string;
  return v;
}

export function readVelociTerm(text: string): Map<string, LiteSession[]> {
  const folders = new Map<string, LiteSession[]>();
  let folder: LiteSession[] | null = null;
  let session: LiteSession | null = null;
  for (const line of text.split(/\r?\n/)) {
    const f = /^-\s+folder_name:\s*(.*)$/.exec(line);
    if (f) {
      folder = [];
      folders.set(scalar(f[1] ?? ''), folder);
      session = null;
      continue;
    }
    const kv = /^\s+(?:-\s+)?([A-Za-z_]+):\s*(.*)$/.exec(line);
    if (!kv || !folder) continue;
    const [, key, value = ''] = kv;
    if (key === 'display_name') {
      session = { name: scalar(value), host: '', port: '22', deviceType: '', model: '' };
      folder.push(session);
    } else if (session && key === 'host') session.host = scalar(value);
    else if (session && key === 'port') session.port = scalar(value);
    else if (session && key === 'DeviceType') session.deviceType = scalar(value);
    else if (session && key === 'Model') session.model = scalar(value);
  }
  for (const list of folders.values()) list.sort((a, b) => a.name.localeCompare(b.name));
  return folders;
}
