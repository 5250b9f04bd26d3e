/** The per-request histogram's exposition text: cumulative buckets, +Inf, sum, count, escaped labels. */
import t from 'tap';
import { LabelledHistogram } from '../../src/lib/histogram.js';

t.test('observations land in the first bucket that holds them; buckets are cumulative', async (t) => {
  const histogram = new LabelledHistogram('x_seconds', 'Some help', ['method', 'route'], [0.1, 1]);
  const child = histogram.child('GET', '/a');
  t.equal(histogram.child('GET', '/a'), child, 'the same child for the same labels');
  for (const seconds of [0.05, 0.1, 0.5, 2]) child.observe(seconds);
  histogram.child('POST', 'say "hi"\\\n').observe(0.01);
  t.equal(
    histogram.render(),
    [
      '# HELP x_seconds Some help',
      '# TYPE x_seconds histogram',
      'x_seconds_bucket{method="GET",route="/a",le="0.1"} 2',
      'x_seconds_bucket{method="GET",route="/a",le="1"} 3',
      'x_seconds_bucket{method="GET",route="/a",le="+Inf"} 4',
      'x_seconds_sum{method="GET",route="/a"} 2.65',
      'x_seconds_count{method="GET",route="/a"} 4',
      'x_seconds_bucket{method="POST",route="say \\"hi\\"\\\\\\n",le="0.1"} 1',
      'x_seconds_bucket{method="POST",route="say \\"hi\\"\\\\\\n",le="1"} 1',
      'x_seconds_bucket{method="POST",route="say \\"hi\\"\\\\\\n",le="+Inf"} 1',
      'x_seconds_sum{method="POST",route="say \\"hi\\"\\\\\\n"} 0.01',
      'x_seconds_count{method="POST",route="say \\"hi\\"\\\\\\n"} 1',
      '',
    ].join('\n'),
  );
});

t.test('no children: HELP and TYPE only; buckets must increase', async (t) => {
  t.equal(new LabelledHistogram('y', 'h', ['a'], [1]).render(), '# HELP y h\n# TYPE y histogram\n');
  t.throws(() => new LabelledHistogram('z', 'h', [], [1, 1]), /buckets must increase/);
});
