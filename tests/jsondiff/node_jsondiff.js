'use strict';
// Runs node-simperium's jsondiff (the npm package "simperium") on cases read from stdin.
//
// Input: {"root": <folder holding node_modules/simperium>, "cases": [case, ...]}, where a case
// is one of
//   {"op": "apply", "obj": {...}, "diff": {...}}        apply_object_diff(obj, diff)
//   {"op": "diff", "a": {...}, "b": {...}}               object_diff(a, b)
//   {"op": "transform", "a": d, "b": d, "base": {...}}   transform_object_diff(a, b, base)
//   {"op": "merge", "base": {...}, "a": {...}, "b": {...}}
//       the client's own merge: a and b diffed from base, a's diff transformed over b's and
//       applied after b's; "transformed" says whether transform returned anything.
// Output: one result per case, in order: {"value": ...}, {"undefined": true} or {"error": ...}.
// The jsondiff used is the instance the client builds (list_diff: false).

const path = require('path');

function run(jsondiff, c) {
  switch (c.op) {
    case 'apply':
      return jsondiff.apply_object_diff(c.obj, c.diff);
    case 'diff':
      return jsondiff.object_diff(c.a, c.b);
    case 'transform':
      return jsondiff.transform_object_diff(c.a, c.b, c.base);
    case 'merge': {
      const da = jsondiff.object_diff(c.base, c.a);
      const db = jsondiff.object_diff(c.base, c.b);
      const rebased = jsondiff.transform_object_diff(da, db, c.base);
      const afterB = jsondiff.apply_object_diff(c.base, db);
      return {
        transformed: rebased !== undefined,
        merged: rebased === undefined ? afterB : jsondiff.apply_object_diff(afterB, rebased),
      };
    }
    default:
      throw new Error('unknown op ' + c.op);
  }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
});
process.stdin.on('end', () => {
  const request = JSON.parse(input);
  const lib = path.join(request.root, 'node_modules', 'simperium', 'lib', 'simperium');
  const jsondiff = require(path.join(lib, 'jsondiff')).default;
  const results = request.cases.map((c) => {
    try {
      const value = run(jsondiff, c);
      return value === undefined ? { undefined: true } : { value: value };
    } catch (err) {
      return { error: String((err && err.message) || err) };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
