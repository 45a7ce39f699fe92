import { describe, expect, it } from 'vitest';
import type { ConnectionProfileRow } from '../db/schema/index.js';
import { planImport } from './import-plan.js';
import {
  type ExportFolder,
  ImportFileError,
  parseVelociTerm,
  serializeVelociTerm,
} from './velociterm-yaml.js';

const SAMPLE = `# exported by VelociTerm
- folder_name: Core
  sessions:
  - DeviceType: cisco_ios
    Model: C9300-48P
    SerialNumber: FOC1234
    credsid: '1'
    display_name: core-sw1
    host: 10.0.0.1
    port: '22'
    Vendor: Cisco
  - display_name: core-sw2
    host: core-sw2.example.net
    port: 2222
    DeviceType: ''
    Model: ''
- folder_name: Edge
  sessions:
  - display_name: edge-fw
    host: 192.0.2.10
    port: '22'
    nested:
      site: ams
      racks: [1, 2]
`;

function problems(text: string): { message: string; fields: Record<string, string> } {
  try {
    parseVelociTerm(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ImportFileError);
    const e = err as ImportFileError;
    return { message: e.message, fields: e.extra.fields ?? {} };
  }
  throw new Error('expected the file to be rejected');
}

describe('VelociTerm YAML', () => {
  it('maps VelociTerm keys, turns string ports into integers and keeps unknown keys in extra', () => {
    const folders = parseVelociTerm(SAMPLE);
    expect(folders.map((f) => f.name)).toEqual(['Core', 'Edge']);
    expect(folders[0]!.sessions[0]).toEqual({
      line: 4,
      name: 'core-sw1',
      host: '10.0.0.1',
      port: 22,
      deviceType: 'cisco_ios',
      model: 'C9300-48P',
      extra: { SerialNumber: 'FOC1234', credsid: '1', Vendor: 'Cisco' },
    });
    expect(folders[0]!.sessions[1]).toMatchObject({ port: 2222, deviceType: null, model: null, extra: {} });
    expect(folders[1]!.sessions[0]!.extra).toEqual({ nested: { site: 'ams', racks: [1, 2] } });
  });

  it('reads an empty folder_name as the top level and defaults the port to 22', () => {
    const [root] = parseVelociTerm(`- folder_name: ''\n  sessions:\n  - {display_name: a, host: h}\n`);
    expect(root).toMatchObject({ name: '', sessions: [{ name: 'a', host: 'h', port: 22 }] });
  });

  it('reports invalid YAML with its line and column', () => {
    const { message, fields } = problems(
      '- folder_name: Core\n  sessions:\n  - display_name: "unterminated\n',
    );
    expect(message).toMatch(/line \d+, column \d+/);
    expect(fields.yaml).toMatch(/^line \d+, column \d+: /);
    const dup = problems('- folder_name: A\n  folder_name: B\n  sessions: []\n');
    expect(dup.fields.yaml).toMatch(/^line 2, column 3: .*[Uu]nique|^line 2, column 3: .*duplicate/i);
  });

  it('rejects wrong shapes, naming the line and the entry', () => {
    expect(problems('folder_name: Core\n').fields.yaml).toMatch(
      /^line 1: the file must be a list of folders/,
    );
    expect(problems('').fields.yaml).toMatch(/empty/);
    expect(problems('- folder_name: Core\n  sessions: nope\n').fields['0.sessions']).toMatch(
      /^line 2: sessions must be a list of sessions/,
    );
    expect(problems('- folder_name: Core\n  sessions:\n  - just-a-string\n').fields['0.sessions.0']).toMatch(
      /^line 3: session #1 in folder "Core" must be a mapping/,
    );
    expect(problems('- sessions: []\n').fields['0.folder_name']).toMatch(/folder_name is required/);
  });

  it('rejects a missing host and an out-of-range port, naming line and session', () => {
    const text = [
      '- folder_name: Core',
      '  sessions:',
      '  - display_name: ok',
      '    host: 10.0.0.1',
      '  - display_name: no-host',
      "    port: '22'",
      '  - display_name: big-port',
      '    host: 10.0.0.3',
      "    port: '70000'",
      '  - display_name: zero-port',
      '    host: 10.0.0.4',
      '    port: 0',
      '',
    ].join('\n');
    const { fields, message } = problems(text);
    expect(fields['0.sessions.1.host']).toMatch(/^line 5: host .* \(session "no-host" in folder "Core"\)$/);
    expect(fields['0.sessions.2.port']).toBe(
      'line 9: port must be from 1 to 65535 (session "big-port" in folder "Core")',
    );
    expect(fields['0.sessions.3.port']).toMatch(
      /^line 12: port must be from 1 to 65535 \(session "zero-port"/,
    );
    expect(message).toMatch(/\(3 problems\); first: line 5: host/);
  });

  it('rejects a display_name used twice in one folder, even across repeated folder entries', () => {
    const text = [
      '- folder_name: Core',
      '  sessions:',
      '  - {display_name: sw1, host: a}',
      '  - {display_name: sw1, host: b}',
      '- folder_name: core',
      '  sessions:',
      '  - {display_name: sw1, host: c}',
      '- folder_name: Other',
      '  sessions:',
      '  - {display_name: sw1, host: d}',
      '',
    ].join('\n');
    const { fields } = problems(text);
    expect(fields['0.sessions.1.display_name']).toBe(
      'line 4: duplicate display_name "sw1" in folder "Core" (first at line 3)',
    );
    expect(fields['1.sessions.0.display_name']).toMatch(/^line 7: duplicate display_name "sw1"/);
    expect(Object.keys(fields)).toHaveLength(2);
  });

  it('refuses alias bombs and NUL bytes', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
      .concat(
        Array.from(
          { length: 8 },
          (_, i) =>
            `${'bcdefghi'[i]}: &${'bcdefghi'[i]} [${Array(9)
              .fill(`*${i === 0 ? 'a' : 'bcdefghi'[i - 1]}`)
              .join(', ')}]`,
        ),
      )
      .join('\n');
    expect(
      problems(`- folder_name: x\n  sessions: []\n  junk:\n    ${bomb.replace(/\n/g, '\n    ')}\n`).message,
    ).toMatch(/not imported/);
    expect(problems('- folder_name: "a\0b"\n').fields.yaml).toMatch(/NUL/);
  });

  it('writes the VelociTerm layout in a stable order, ports as quoted strings', () => {
    const folders: ExportFolder[] = [
      {
        name: 'b-folder',
        sessions: [
          {
            name: 'zeta',
            host: 'z',
            port: 22,
            deviceType: null,
            model: null,
            username: null,
            authMethod: 'none',
            credential: null,
            tags: [],
            notes: null,
            extra: { credsid: '1', Vendor: 'Cisco' },
          },
          {
            name: 'Alpha',
            host: 'a',
            port: 2222,
            deviceType: 'linux',
            model: 'VM',
            username: 'ops',
            authMethod: 'publickey',
            credential: 'ops-key',
            tags: ['prod', 'web'],
            notes: 'line one\nline two',
            extra: {},
          },
        ],
      },
      { name: 'A-folder', sessions: [] },
    ];
    const text = serializeVelociTerm(folders);
    expect(text).toBe(
      [
        '- folder_name: A-folder',
        '  sessions: []',
        '- folder_name: b-folder',
        '  sessions:',
        '    - display_name: Alpha',
        '      host: a',
        "      port: '2222'",
        '      DeviceType: linux',
        '      Model: VM',
        '      username: ops',
        '      auth_method: publickey',
        '      credential: ops-key',
        '      tags:',
        '        - prod',
        '        - web',
        '      notes: |-',
        '        line one',
        '        line two',
        '    - display_name: zeta',
        '      host: z',
        "      port: '22'",
        "      DeviceType: ''",
        "      Model: ''",
        "      credsid: '1'",
        '      Vendor: Cisco',
        '',
      ].join('\n'),
    );
    expect(serializeVelociTerm([...folders].reverse())).toBe(text);
    const back = parseVelociTerm(text);
    expect(back[1]!.sessions[0]).toMatchObject({
      name: 'Alpha',
      port: 2222,
      username: 'ops',
      authMethod: 'publickey',
      credential: 'ops-key',
      tags: ['prod', 'web'],
      notes: 'line one\nline two',
    });
    expect(back[1]!.sessions[1]!.extra).toEqual({ credsid: '1', Vendor: 'Cisco' });
  });
});

describe('import plan', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  let n = 0;
  const newId = () => `id-${++n}`;
  const file = parseVelociTerm(SAMPLE);

  function existing(overrides: Partial<ConnectionProfileRow>): ConnectionProfileRow {
    return {
      id: 'p-1',
      userId: 'u',
      folderId: 'f-core',
      name: 'core-sw1',
      host: '10.0.0.1',
      port: 22,
      username: 'netops',
      authMethod: 'password',
      credentialId: null,
      secretEnc: 'v1:sealed',
      deviceType: 'cisco_ios',
      model: 'C9300-48P',
      tags: ['core'],
      notes: null,
      extra: { Vendor: 'Cisco', credsid: '1', SerialNumber: 'FOC1234' },
      importKey: 'core-sw1:10.0.0.1:22:Core',
      createdAt: now,
      updatedAt: now,
      ...overrides,
    };
  }

  it('adds new entries, keeps matching ones unchanged and Tether-only fields as they were', () => {
    const plan = planImport(
      {
        userId: 'u',
        folders: [{ id: 'f-core', name: 'CORE' }],
        credentials: [],
        profiles: [existing({ importKey: 'core-sw1:10.0.0.1:22:CORE' })],
      },
      file,
      'merge',
      { now, newId },
    );
    expect(plan.preview.unchanged).toEqual([{ folder: 'CORE', name: 'core-sw1' }]);
    expect(plan.preview.added).toEqual([
      { folder: 'CORE', name: 'core-sw2' },
      { folder: 'Edge', name: 'edge-fw' },
    ]);
    expect(plan.foldersToCreate).toEqual([{ id: expect.any(String), name: 'Edge' }]);
    expect(plan.upserts.map((r) => r.importKey)).toEqual([
      'core-sw2:core-sw2.example.net:2222:CORE',
      'edge-fw:192.0.2.10:22:Edge',
    ]);
  });

  it('updates changed VelociTerm fields and, in replace mode, removes what the file does not list', () => {
    const plan = planImport(
      {
        userId: 'u',
        folders: [
          { id: 'f-core', name: 'Core' },
          { id: 'f-old', name: 'Old' },
        ],
        credentials: [],
        profiles: [
          existing({ model: 'C9200' }),
          existing({ id: 'p-2', name: 'gone', importKey: 'gone:h:22:Old', folderId: 'f-old' }),
        ],
      },
      file,
      'replace',
      { now, newId },
    );
    expect(plan.preview.updated).toEqual([{ folder: 'Core', name: 'core-sw1' }]);
    expect(plan.upserts[0]).toMatchObject({
      id: 'p-1',
      model: 'C9300-48P',
      username: 'netops',
      tags: ['core'],
    });
    expect(plan.upserts[0]).not.toHaveProperty('secretEnc');
    expect(plan.preview.removed).toEqual([{ folder: 'Old', name: 'gone' }]);
    expect(plan.deleteIds).toEqual(['p-2']);
    expect(plan.preview.folders.removed).toEqual(['Old']);
  });

  it('rejects two entries whose VelociTerm ids collide', () => {
    const text =
      "- folder_name: X\n  sessions:\n  - {display_name: 'a:b', host: c}\n  - {display_name: a, host: 'b:c'}\n";
    expect(() =>
      planImport(
        { userId: 'u', folders: [], credentials: [], profiles: [] },
        parseVelociTerm(text),
        'merge',
        {
          now,
          newId,
        },
      ),
    ).toThrow(/line 4: session "a" has the same id "a:b:c:22:X" as the session at line 3/);
  });

  it('links credential sets by name and keeps unknown names for a later import', () => {
    const text =
      '- folder_name: X\n  sessions:\n  - {display_name: a, host: h, credential: OPS}\n  - {display_name: b, host: h, credential: nope}\n';
    const plan = planImport(
      { userId: 'u', folders: [], credentials: [{ id: 'c-1', name: 'ops' }], profiles: [] },
      parseVelociTerm(text),
      'merge',
      { now, newId },
    );
    expect(plan.upserts[0]).toMatchObject({ credentialId: 'c-1', extra: {} });
    expect(plan.upserts[1]).toMatchObject({ credentialId: null, extra: { credential: 'nope' } });
  });
});
