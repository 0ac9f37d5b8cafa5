"""Writes a small multi-turn tool-use SFT set in the two real layouts the SFT stage reads (written for agentrl's
tests; no dataset content), into the folder given as the first argument:

  train.parquet  tool-call `arguments` as a struct {code, language}, pyarrow's writer, two row groups
  train.jsonl    the same kind of rows as JSON lines with `arguments` as a JSON string

Each file has GOOD good rows (varied: tool calls, several calls in one turn, a traceback as tool output, several
user turns, a system prompt) and planted bad rows, one per reject reason, listed in BAD below (the test reads
that list from the printed JSON). usage: make_sft_data.py <dir> [good rows per file]
"""
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TOOLS = [{"type": "function", "function": {"name": "code_interpreter", "description": "Runs Python code and returns its output.",
                                           "parameters": {"type": "object", "properties": {"code": {"type": "string", "description": "The code."}}, "required": ["code"]}}}]


def call(i, code):
    return {"id": f"call_{i}", "type": "function", "function": {"name": "code_interpreter", "arguments": {"code": code, "language": "python"}}}


def msg(role, content, tool_calls=None, tool_call_id=None):
    return {"role": role, "content": content, "tool_calls": tool_calls, "tool_call_id": tool_call_id}


def good(i):
    a, b = 3 + i, 7 + 2 * i
    shapes = [
        [msg("user", f"What is {a} times {b}?"), msg("assistant", "", [call(0, f"print({a} * {b})")]), msg("tool", str(a * b), None, "call_0"),
         msg("assistant", f"The product is {a * b}.")],
        [msg("system", "Use Python when it helps."), msg("user", f"Add {a} and {b}."), msg("assistant", f"{a} plus {b} is {a + b}.")],
        [msg("user", f"Divide {a} by zero, then by {b}."), msg("assistant", "Trying both.", [call(0, f"print({a} / 0)"), call(1, f"print({a} / {b})")]),
         msg("tool", "Traceback (most recent call last):\n  File \"<stdin>\", line 1\nZeroDivisionError: division by zero", None, "call_0"),
         msg("tool", str(a / b), None, "call_1"), msg("assistant", f"Division by zero fails; {a}/{b} is {a / b:.3f}.")],
        [msg("user", f"Square {a}."), msg("assistant", f"{a * a}"), msg("user", f"And cube {b}?"), msg("assistant", f"{b ** 3}")],
    ]
    return (f"g{i}", shapes[i % len(shapes)])


def rows(n_good, kind):
    out = [good(i) for i in range(n_good)]
    long_prompt = "count " * 200
    if kind == "parquet":
        out += [
            ("bad_role", [msg("user", "x"), msg("robot", "beep"), msg("assistant", "y")]),
            ("orphan_tool", [msg("user", "x"), msg("tool", "42", None, "call_9"), msg("assistant", "y")]),
            ("no_assistant", [msg("user", "only a question")]),
            ("too_long", [msg("user", long_prompt), msg("assistant", "done")]),
        ]
    else:
        out += [
            ("bad_args", [msg("user", "x"), msg("assistant", "", [call(0, "print(1)")]), msg("tool", "1", None, "call_0"), msg("assistant", "1")]),
            ("user_calls", [msg("user", "x", [call(0, "print(1)")]), msg("assistant", "y")]),
        ]
    return out


BAD = {
    "parquet": {"bad_role": 1, "tool_result_without_call": 1, "no_assistant_turn": 1, "empty_after_truncation": 1},
    "jsonl": {"unparseable_arguments": 1, "roles_out_of_order": 1, "invalid_json": 1},
}


def main():
    out = Path(sys.argv[1])
    n_good = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    out.mkdir(parents=True, exist_ok=True)
    call_t = pa.struct([("id", pa.string()), ("type", pa.string()),
                        ("function", pa.struct([("name", pa.string()), ("arguments", pa.struct([("code", pa.string()), ("language", pa.string())]))]))])
    msg_t = pa.struct([("role", pa.string()), ("content", pa.string()), ("tool_calls", pa.list_(call_t)), ("tool_call_id", pa.string())])
    params_t = pa.struct([("type", pa.string()), ("properties", pa.struct([("code", pa.struct([("type", pa.string()), ("description", pa.string())]))])),
                          ("required", pa.list_(pa.string()))])
    tool_t = pa.struct([("type", pa.string()), ("function", pa.struct([("name", pa.string()), ("description", pa.string()), ("parameters", params_t)]))])
    prow = rows(n_good, "parquet")
    table = pa.table({"id": pa.array([r[0] for r in prow]), "messages": pa.array([r[1] for r in prow], pa.list_(msg_t)),
                      "tools": pa.array([TOOLS] * len(prow), pa.list_(tool_t))})
    pq.write_table(table, out / "train.parquet", row_group_size=max(1, len(prow) // 2))
    with open(out / "train.jsonl", "w", encoding="utf-8") as f:
        for sid, messages in rows(n_good, "jsonl"):
            ms = []
            for m in messages:
                m = dict(m)
                if m["tool_calls"]:
                    m["tool_calls"] = [{**c, "function": {**c["function"], "arguments": json.dumps(c["function"]["arguments"])}} for c in m["tool_calls"]]
                    if sid == "bad_args":
                        m["tool_calls"][0]["function"]["arguments"] = '{"code": "print(1)"'
                ms.append({k: v for k, v in m.items() if v is not None})
            f.write(json.dumps({"id": sid, "messages": ms, "tools": TOOLS}) + "\n")
        f.write("{not json\n")
    print(json.dumps({"good_per_file": n_good, "bad": BAD}))


if __name__ == "__main__":
    main()
