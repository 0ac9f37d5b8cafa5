import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outputsMatch, textOf, valuesMatch } from '../../rewards/code/compare.ts';

test('outputs compare line by line after stripping whitespace', () => {
  assert.ok(outputsMatch('1 2\n3\n\n', '1 2\n3'));
  assert.ok(outputsMatch('  a  b \r\nc', 'a b\nc'));
  assert.ok(!outputsMatch('1\n\n2', '1\n2'), 'an inner blank line is significant');
  assert.ok(!outputsMatch('1 2', '1\n2'));
  assert.ok(!outputsMatch('YES', 'yes'));
  assert.ok(outputsMatch('', '\n'));
});

test('numeric tokens compare as numbers: integers exactly, decimals within tolerance', () => {
  assert.ok(outputsMatch('0.3333333333', '0.333333333'));
  assert.ok(outputsMatch('2.50', '2.5'));
  assert.ok(outputsMatch('1e3', '1000.0'));
  assert.ok(!outputsMatch('0.3334', '0.3333'));
  assert.ok(outputsMatch('007', '7'));
  assert.ok(!outputsMatch('12345678901234567891', '12345678901234567890'), 'big integers are exact');
  assert.ok(outputsMatch('1.0001', '1', { absTol: 1e-3 }));
  assert.ok(!outputsMatch('nan', 'nan0'));
});

test('call-based values compare deeply with float tolerance', () => {
  assert.ok(valuesMatch([1, [2.0000000001, 'a']], [1, [2, 'a']]));
  assert.ok(!valuesMatch([1, 2], [2, 1]));
  assert.ok(!valuesMatch(1, 2));
  assert.ok(valuesMatch({ a: 1 }, { a: 1 }));
  assert.ok(!valuesMatch({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!valuesMatch('1', 1));
});

test('TACO text fields may be lists of lines', () => {
  assert.equal(textOf(['1 2', '3']), '1 2\n3');
  assert.equal(textOf(5), '5');
});
