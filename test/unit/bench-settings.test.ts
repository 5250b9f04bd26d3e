/** The bench's run settings: the slices and durations, and --slices for pinning down one ratio. */
import t from 'tap';
import { loadSettings } from '../../bench/settings.js';

const OUT = ['--out=/tmp/portcullis-bench-settings-test'];

t.test('a full run measures each scenario in 5 slices over 10 s (20 s with argon2)', async (t) => {
  const settings = loadSettings(OUT, {});
  t.same(
    { slices: settings.slices, hashSlices: settings.hashSlices, durationSec: settings.durationSec, hashDurationSec: settings.hashDurationSec },
    { slices: 5, hashSlices: 5, durationSec: 10, hashDurationSec: 20 },
  );
});

t.test('--slices=N on a partial run keeps the slice length and runs N pairs of them', async (t) => {
  const flagged = loadSettings([...OUT, '--only=^floor\\.login$', '--slices=15'], {});
  t.same(
    { slices: flagged.slices, hashSlices: flagged.hashSlices, durationSec: flagged.durationSec, hashDurationSec: flagged.hashDurationSec },
    { slices: 15, hashSlices: 15, durationSec: 30, hashDurationSec: 60 },
  );
  const fromEnv = loadSettings(OUT, { BENCH_ONLY: '^me$', BENCH_SLICES: '8' });
  t.equal(fromEnv.durationSec, 16, 'BENCH_SLICES does the same');
  t.equal(fromEnv.updateReadme, false, 'a partial run never rewrites the README');
});

t.test('--slices is refused on a full run and when it is not a positive integer', async (t) => {
  t.throws(() => loadSettings([...OUT, '--slices=15'], {}), /partial runs/);
  for (const bad of ['0', '-3', '2.5', 'many']) {
    t.throws(() => loadSettings([...OUT, '--only=^me$', `--slices=${bad}`], {}), /positive integer/, `--slices=${bad}`);
  }
});

t.test('--against-floor puts a route against its floor on partial runs only', async (t) => {
  t.equal(loadSettings(OUT, {}).againstFloor, false, 'off by default');
  t.equal(loadSettings([...OUT, '--only=^login\\.ok$', '--against-floor'], {}).againstFloor, true);
  t.equal(loadSettings(OUT, { BENCH_ONLY: '^me$', BENCH_AGAINST_FLOOR: '1' }).againstFloor, true, 'BENCH_AGAINST_FLOOR=1 does the same');
  t.throws(() => loadSettings([...OUT, '--against-floor'], {}), /partial runs/, 'a full run judges every route against its baseline');
  t.equal(loadSettings(['--smoke', ...OUT], {}).againstFloor, false, 'not in the smoke run npm test makes');
  t.equal(loadSettings(['--smoke', ...OUT, '--only=^check\\.app$', '--against-floor'], {}).againstFloor, true, 'but in a partial smoke run');
});
