import { randomUUID } from 'node:crypto';
import { DEFAULT_USER_SETTINGS, ErrorCode, type Pane } from '@tether/protocol';
import { describe, expect, it } from 'vitest';
import { createTerminalsRepo, SCREENS_KEPT_PER_USER } from '../src/persistence/terminals-repo.js';
import { addUser, Browser, DRIVERS, useTestApp } from './helpers.js';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const term = (n: number): Pane => ({ kind: 'terminal', terminalId: id(n) });

describe.each(DRIVERS)('settings and workspace (%s)', (driver) => {
  const testApp = useTestApp(driver);

  async function setup() {
    const { t, admin } = await testApp.start();
    const { browser: dora, id: doraId } = await addUser(t.app, admin, 'dora');
    return { admin, dora, doraId };
  }

  it('gives defaults, keeps what the user changes (and only that), and resets a field with null', async () => {
    const { admin, dora } = await setup();
    const first = await dora.request('GET', '/api/settings');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ settings: DEFAULT_USER_SETTINGS, custom: [] });

    const changed = await dora.request('PATCH', '/api/settings', { fontSize: 17, theme: 'light' });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().settings).toEqual({ ...DEFAULT_USER_SETTINGS, fontSize: 17, theme: 'light' });
    expect(changed.json().custom.sort()).toEqual(['fontSize', 'theme']);

    // A second change keeps the first; null puts a field back to its default.
    await dora.request('PATCH', '/api/settings', { copyOnSelect: true, theme: null });
    const now = (await dora.request('GET', '/api/settings')).json();
    expect(now.settings).toEqual({ ...DEFAULT_USER_SETTINGS, fontSize: 17, copyOnSelect: true });
    expect(now.custom.sort()).toEqual(['copyOnSelect', 'fontSize']);

    // Another user's settings are their own.
    expect((await admin.request('GET', '/api/settings')).json().custom).toEqual([]);
  });

  it('refuses bad settings field by field and changes nothing', async () => {
    const { dora } = await setup();
    const res = await dora.request('PATCH', '/api/settings', {
      fontSize: 200,
      cursorStyle: 'triangle',
      fontFamily: 'x}{',
      nonsense: 1,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(Object.keys(res.json().error.fields).sort()).toEqual([
      '_',
      'cursorStyle',
      'fontFamily',
      'fontSize',
    ]);
    expect((await dora.request('GET', '/api/settings')).json().custom).toEqual([]);
  });

  it('stores the workspace and gives it back after the next sign-in, in order', async () => {
    const { dora } = await setup();
    const empty = await dora.request('GET', '/api/workspace');
    expect(empty.json()).toEqual({ workspace: { tabs: [], activeTabId: null }, updatedAt: null });

    const workspace = {
      tabs: [
        {
          id: 't1',
          title: 'db',
          root: { kind: 'split', direction: 'row', ratio: 0.4, first: term(1), second: term(2) },
          focused: id(2),
          broadcast: [id(1), id(2)],
        },
        { id: 't2', title: null, root: term(3), focused: null, broadcast: [] },
      ],
      activeTabId: 't2',
    };
    const saved = await dora.request('PUT', '/api/workspace', workspace);
    expect(saved.statusCode).toBe(200);
    expect(saved.json().workspace).toEqual(workspace);

    const again = new Browser(testApp.current.app);
    expect((await again.login('dora', 'dora-password')).statusCode).toBe(200);
    const back = await again.request('GET', '/api/workspace');
    expect(back.json().workspace).toEqual(workspace);
    expect(Date.parse(back.json().updatedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses a bad layout (a terminal twice, too deep, too large) and keeps the stored one', async () => {
    const { dora } = await setup();
    const good = {
      tabs: [{ id: 'a', title: null, root: term(1), focused: null, broadcast: [] }],
      activeTabId: 'a',
    };
    expect((await dora.request('PUT', '/api/workspace', good)).statusCode).toBe(200);

    const twice = {
      tabs: [
        { id: 'a', title: null, root: term(1), focused: null, broadcast: [] },
        { id: 'b', title: null, root: term(1), focused: null, broadcast: [] },
      ],
      activeTabId: 'a',
    };
    const dup = await dora.request('PUT', '/api/workspace', twice);
    expect(dup.statusCode).toBe(400);
    expect(dup.json().error.fields['tabs.1.root']).toMatch(/twice/);

    // A split tree 800 deep (within the body limit) is refused before the schema walks it.
    let root: unknown = term(1);
    for (let i = 0; i < 800; i++)
      root = { kind: 'split', direction: 'row', ratio: 0.5, first: root, second: {} };
    const deep = await dora.request('PUT', '/api/workspace', {
      tabs: [{ id: 'a', title: null, root, focused: null, broadcast: [] }],
      activeTabId: null,
    });
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error.fields._).toMatch(/deeper than 64 levels/);

    const huge = await dora.request('PUT', '/api/workspace', {
      tabs: [],
      activeTabId: null,
      pad: 'x'.repeat(70_000),
    });
    expect(huge.statusCode).toBe(413);

    expect((await dora.request('GET', '/api/workspace')).json().workspace).toEqual(good);
  });

  it("keeps the last screens of a user's most recent ended terminals only, and drops them when cleared", async () => {
    const { dora, doraId } = await setup();
    const repo = createTerminalsRepo(testApp.current.app.database.db);
    const ids: string[] = [];
    for (let i = 0; i < SCREENS_KEPT_PER_USER + 2; i++) {
      const id = randomUUID();
      ids.push(id);
      await repo.insert({
        id,
        userId: doraId,
        nodeId: 'n',
        host: 'h',
        port: 22,
        sshUsername: 'u',
        cols: 80,
        rows: 24,
        status: 'exited',
      });
      const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i));
      await repo.saveScreen({
        terminalId: id,
        userId: doraId,
        data: `screen ${i}`,
        cols: 80,
        rows: 24,
        outputOffset: i,
        capturedAt: at,
      });
    }
    // The two oldest went; the newest are there, for their owner only.
    expect(await repo.screenFor(doraId, ids[0]!)).toBeUndefined();
    expect(await repo.screenFor(doraId, ids[1]!)).toBeUndefined();
    expect((await repo.screenFor(doraId, ids[2]!))?.data).toBe('screen 2');
    expect((await repo.screenFor(doraId, ids.at(-1)!))?.data).toBe(`screen ${SCREENS_KEPT_PER_USER + 1}`);
    expect(await repo.screenFor(randomUUID(), ids.at(-1)!)).toBeUndefined();
    // "Clear ended" takes them off the list and drops their screens.
    expect((await dora.request('DELETE', '/api/terminals?status=ended')).json()).toEqual({
      cleared: SCREENS_KEPT_PER_USER + 2,
    });
    expect(await repo.screenFor(doraId, ids.at(-1)!)).toBeUndefined();
  });

  it('needs a signed-in user', async () => {
    const anonymous = new Browser((await testApp.bare()).app);
    for (const [method, url] of [
      ['GET', '/api/settings'],
      ['PATCH', '/api/settings'],
      ['GET', '/api/workspace'],
      ['PUT', '/api/workspace'],
    ] as const) {
      expect((await anonymous.request(method, url, method === 'GET' ? undefined : {})).statusCode, url).toBe(
        401,
      );
    }
  });
});
