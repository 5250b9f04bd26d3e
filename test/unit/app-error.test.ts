import t from 'tap';
import { AppError, ERRORS } from '../../src/errors.js';

const frames = (error: Error) => (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at ')).length;

t.test('a 4xx AppError is an answer: it carries no stack frames', async (t) => {
  const error = new AppError('INVALID_CREDENTIALS');
  t.equal(error.statusCode, 401);
  t.equal(frames(error), 0, String(error.stack));
  t.equal(error.message, ERRORS.INVALID_CREDENTIALS.message, 'message kept');
  t.match(String(error.stack), /AppError|Error/, 'the stack still names the error');
});

t.test('a 5xx AppError is a fault: it keeps its stack', async (t) => {
  const error = new AppError('INTERNAL_ERROR');
  t.equal(error.statusCode, 500);
  t.ok(frames(error) > 0, String(error.stack));
});

t.test('the process-wide stack limit is restored, and a cause keeps its own stack', async (t) => {
  const before = Error.stackTraceLimit;
  const cause = new Error('driver failed');
  const error = new AppError('TOKEN_INVALID', { cause });
  t.equal(Error.stackTraceLimit, before);
  t.equal(error.cause, cause);
  t.ok(frames(cause) > 0, 'the cause was captured outside and keeps its frames');
  t.ok(frames(new Error('plain')) > 0, 'plain errors created afterwards still have frames');
});
