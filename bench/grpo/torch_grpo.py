#!/usr/bin/env python3
"""PyTorch + transformers baseline of one GRPO-TCR step, for bench/grpo/run.ts (same invocation, same machine):

  generation  per turn, one model.generate (KV cache, sampling at the plan's temperature / top_p, stop at the
              end-of-turn token, max_new_tokens = the largest budget left) over every trajectory still running,
              left-padded; each row is cut at its first end-of-turn token and at its own budget
  tools       the first Hermes <tool_call> of a turn is parsed (json, name code_interpreter, arguments.code) and run
              in OUR sandbox through bench/grpo/tool-bridge.ts (JSON lines; the same runner options as the agent
              loop, the turn's calls in flight together); the tool turn is rendered with apply_chat_template
              around the tool output and appended (budget permitting), until no call / the turn cap / the budget
  scoring     strict \\boxed match on the last 100 characters, TCR and the overlong penalty, group advantages
  old logp    the policy's per-token log-probs, one row at a time, no grad
  update      one PPO epoch, one optimizer step per mini-batch of `mini_batch_groups` prompts: right-padded
              batch, token-mean of the clip-higher / dual-clip loss over generated tokens, grad-norm clip,
              AdamW(betas, weight decay), f32, torch.set_num_threads(threads)

usage: torch_grpo.py <plan.json>   runs a discarded warm-up step, then prints one JSON object for the measured
       step (timings, tokens, turns, tool calls, rewards)
"""
import json
import re
import subprocess
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

CALL = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


class Bridge:
    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert json.loads(self.p.stdout.readline()).get("ready")
        self.next = 0

    def run_all(self, codes):
        ids = []
        for c in codes:
            self.p.stdin.write(json.dumps({"id": self.next, "code": c}) + "\n")
            ids.append(self.next)
            self.next += 1
        self.p.stdin.flush()
        out = {}
        while len(out) < len(ids):
            r = json.loads(self.p.stdout.readline())
            out[r["id"]] = r
        return [out[i] for i in ids]

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def first_call_code(text):
    m = CALL.search(text)
    if not m:
        return None, False
    try:
        call = json.loads(m.group(1))
        code = call["arguments"]["code"]
        if call.get("name") != "code_interpreter" or not isinstance(code, str):
            return "malformed", True
        return code, True
    except Exception:
        return "malformed", True


def tool_turn_text(tok, tools, content):
    # The template's tool turn around `content`: what follows the assistant turn's end-of-turn token.
    base = [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]
    eot = "<|im_end|>"
    closed = tok.apply_chat_template(base, tools=tools, tokenize=False).count(eot)
    nxt = tok.apply_chat_template(base + [{"role": "tool", "content": content}], tools=tools, tokenize=False, add_generation_prompt=True)
    cut = -len(eot)
    for _ in range(closed):
        cut = nxt.index(eot, cut + len(eot))
    return nxt[cut + len(eot):]


def last_boxed(text, window=100):
    tail = text[-window:]
    at = tail.rfind("\\boxed{")
    if at < 0:
        return None
    depth = 0
    for i in range(at + len("\\boxed"), len(tail)):
        if tail[i] == "{":
            depth += 1
        elif tail[i] == "}":
            depth -= 1
            if depth == 0:
                return tail[at + len("\\boxed{"): i]
    return None


def rollout(model, tok, plan, bridge, eot_id):
    s = plan["settings"]
    trajs = []
    for g, p in enumerate(plan["prompts"]):
        for i in range(plan["n"]):
            trajs.append({"group": g, "prompt": p["ids"], "resp": [], "mask": [], "calls": 0, "turns": 0, "done": False})
    gen_s = tool_s = 0.0
    for turn in range(s["maxTurns"]):
        active = [t for t in trajs if not t["done"] and len(t["resp"]) < s["maxResponseLength"]]
        if not active:
            break
        t0 = time.perf_counter()
        seqs = [t["prompt"] + t["resp"] for t in active]
        L = max(len(x) for x in seqs)
        inp = torch.full((len(seqs), L), eot_id, dtype=torch.long)
        att = torch.zeros(len(seqs), L, dtype=torch.long)
        for b, x in enumerate(seqs):
            inp[b, L - len(x):] = torch.tensor(x)
            att[b, L - len(x):] = 1
        budget = max(s["maxResponseLength"] - len(t["resp"]) for t in active)
        with torch.no_grad():
            out = model.generate(input_ids=inp, attention_mask=att, do_sample=True, temperature=s["temperature"], top_p=s["topP"], top_k=0,
                                 max_new_tokens=budget, eos_token_id=eot_id, pad_token_id=eot_id, use_cache=True)
        gen_s += time.perf_counter() - t0
        calls = []
        for b, t in enumerate(active):
            new = out[b, L:].tolist()
            new = new[: s["maxResponseLength"] - len(t["resp"])]
            if eot_id in new:
                new = new[: new.index(eot_id) + 1]
            t["resp"] += new
            t["mask"] += [1] * len(new)
            t["turns"] += 1
            text = tok.decode(new, skip_special_tokens=False)
            code, has = first_call_code(text)
            if not new or new[-1] != eot_id or not has or turn == s["maxTurns"] - 1:
                t["done"] = True
                continue
            calls.append((t, code))
        t1 = time.perf_counter()
        runs = bridge.run_all([c for _, c in calls if c != "malformed"])
        k = 0
        for t, code in calls:
            if code == "malformed":
                content = "malformed tool call"
            else:
                content = runs[k]["text"]
                k += 1
                t["calls"] += 1
            ids = tok.encode(tool_turn_text(tok, plan["tools"], content), add_special_tokens=False)
            if len(t["resp"]) + len(ids) > s["maxResponseLength"]:
                t["done"] = True
                continue
            t["resp"] += ids
            t["mask"] += [0] * len(ids)
        tool_s += time.perf_counter() - t1
    return trajs, gen_s, tool_s


def score(trajs, tok, plan):
    r = plan["reward"]
    for t in trajs:
        text = tok.decode(t["resp"], skip_special_tokens=True)
        gt = plan["prompts"][t["group"]]["groundTruth"]
        outcome = 1.0 if last_boxed(text) == gt else -1.0
        tcr = (min(r["tcrCap"], outcome + r["tcrPerRound"] * t["calls"]) - outcome) if outcome < 0 else 0.0
        over = min(0.0, -(len(t["resp"]) - (r["maxResponseTokens"] - r["bufferTokens"])) / r["bufferTokens"] * r["factor"])
        t["reward"] = outcome + tcr + over
    for g in range(len(plan["prompts"])):
        grp = [t for t in trajs if t["group"] == g]
        x = torch.tensor([t["reward"] for t in grp], dtype=torch.float64)
        std = x.std().item() if len(grp) > 1 else 0.0
        for t in grp:
            t["adv"] = 0.0 if std == 0 else (t["reward"] - x.mean().item()) / (std + 1e-6)


def row_tensors(t):
    ids = t["prompt"] + t["resp"]
    mask = [0] * len(ids)
    for j, m in enumerate(t["mask"]):
        mask[len(t["prompt"]) + j - 1] = m  # position p predicts token p + 1
    return ids, mask


def token_logp(model, inp, att):
    logits = model(input_ids=inp, attention_mask=att).logits[:, :-1].float()
    return torch.log_softmax(logits, -1).gather(-1, inp[:, 1:, None]).squeeze(-1)


def old_logprobs(model, trajs):
    model.eval()
    with torch.no_grad():
        for t in trajs:
            ids, _ = row_tensors(t)
            x = torch.tensor([ids])
            t["old"] = token_logp(model, x, torch.ones_like(x))[0]


def update(model, opt, trajs, plan):
    u = plan["update"]
    model.train()
    groups = sorted({t["group"] for t in trajs})
    for k in range(0, len(groups), u["miniBatchGroups"]):
        rows = [t for t in trajs if t["group"] in groups[k: k + u["miniBatchGroups"]]]
        T = max(len(t["prompt"]) + len(t["resp"]) for t in rows)
        inp = torch.zeros(len(rows), T, dtype=torch.long)
        att = torch.zeros(len(rows), T, dtype=torch.long)
        msk = torch.zeros(len(rows), T - 1)
        old = torch.zeros(len(rows), T - 1)
        adv = torch.zeros(len(rows), 1)
        for b, t in enumerate(rows):
            ids, mask = row_tensors(t)
            inp[b, : len(ids)] = torch.tensor(ids)
            att[b, : len(ids)] = 1
            msk[b, : len(ids) - 1] = torch.tensor(mask[:-1], dtype=torch.float32)
            old[b, : len(ids) - 1] = t["old"]
            adv[b] = t["adv"]
        logp = token_logp(model, inp, att)
        ratio = torch.exp(torch.clamp(logp - old, -20, 20))
        l1 = -adv * ratio
        l2 = -adv * torch.clamp(ratio, 1 - u["epsLow"], 1 + u["epsHigh"])
        clip1 = torch.maximum(l1, l2)
        clip2 = torch.minimum(-adv * u["dualClipC"], clip1)
        per_tok = torch.where(adv < 0, clip2, clip1)
        loss = (per_tok * msk).sum() / msk.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), u["gradClip"])
        opt.step()


def step(plan, tok, bridge, eot_id):
    model = AutoModelForCausalLM.from_pretrained(plan["model_dir"], torch_dtype=torch.float32)
    u = plan["update"]
    opt = torch.optim.AdamW(model.parameters(), lr=u["lr"], betas=(0.9, 0.999), weight_decay=u["weightDecay"])
    torch.manual_seed(plan["seed"])
    t0 = time.perf_counter()
    trajs, gen_s, tool_s = rollout(model, tok, plan, bridge, eot_id)
    t1 = time.perf_counter()
    score(trajs, tok, plan)
    t2 = time.perf_counter()
    old_logprobs(model, trajs)
    t3 = time.perf_counter()
    update(model, opt, trajs, plan)
    t4 = time.perf_counter()
    n = len(trajs)
    return {
        "step_s": t4 - t0, "rollout_s": t1 - t0, "generation_s": gen_s, "tools_s": tool_s, "scoring_s": t2 - t1, "old_logprob_s": t3 - t2, "update_s": t4 - t3,
        "mean_response_length": sum(len(t["resp"]) for t in trajs) / n,
        "generated_tokens": sum(sum(t["mask"]) for t in trajs), "tool_calls_per_trajectory": sum(t["calls"] for t in trajs) / n,
        "turns_per_trajectory": sum(t["turns"] for t in trajs) / n, "mean_reward": sum(t["reward"] for t in trajs) / n,
    }


def main():
    plan = json.load(open(sys.argv[1]))
    torch.set_num_threads(plan["threads"])
    torch.set_num_interop_threads(1)
    tok = AutoTokenizer.from_pretrained(plan["model_dir"])
    eot_id = tok.convert_tokens_to_ids("<|im_end|>")
    bridge = Bridge(plan["bridge"])
    try:
        # A discarded step first (torch's first forward / backward / optimizer calls), then the measured one
        # from freshly loaded weights: our side is measured warm too.
        step(plan, tok, bridge, eot_id)
        print(json.dumps(step(plan, tok, bridge, eot_id)))
    finally:
        bridge.close()

if __name__ == "__main__":
    main()
