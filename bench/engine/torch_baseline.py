#!/usr/bin/env python3
"""PyTorch CPU baseline for the engine benchmark: tokens/s of one SFT train step and of KV-cached greedy decode
with Hugging Face transformers' Qwen3ForCausalLM, so bench/engine/run.ts can report the engine as a ratio against
it measured in the same invocation.

Usage (from the repo root; with a python3 lacking torch it creates .tools/py from infra/requirements-py.txt
and re-runs itself there; pip output goes to stderr so stdout stays one JSON object):

    .tools/py/bin/python bench/engine/torch_baseline.py [flags]

Flags:
  --model tiny|qwen3-0.6b   tiny = recipes/models/tiny/config.json (default); qwen3-0.6b = Qwen3-0.6B dims
                            (hidden 1024, heads 16/8, head_dim 128, intermediate 3072, vocab 151936, tied head)
  --config PATH             any HF Qwen3 config.json instead of --model
  --layers N                override num_hidden_layers (default: 2 for qwen3-0.6b, the config's own otherwise)
  --threads N               torch.set_num_threads(N) (default 2); interop threads are fixed at 1
  --batch B --seq S         train-step batch shape (default 4 x 256 for tiny, 1 x 128 for qwen3-0.6b)
  --train-steps K           timed train steps after one untimed warm-up step (default 5)
  --prompt-len P            decode prompt length (default 32)
  --decode-tokens T         greedy tokens generated after the prompt (default 64 tiny, 16 qwen3-0.6b)
  --decode-batch N          sequences decoded together (default 1)
  --prefill-batch N --prefill-len L
                            also time a prefill of N prompts of L tokens into a fresh cache, logits of the last
                            position only (as generate() runs it); median of 3 after a warm-up (default: off)
  --skip-train / --skip-decode
  --seed N                  weights and token ids (default 0)

The train step is the SFT stage's step: masked NLL sum(CE*mask)/sum(mask) with labels = next token (the
first quarter of each row masked out as "prompt"), backward, global grad-norm clip 1.0, AdamW(lr 1e-5, betas
0.9/0.95, weight decay 0.01), all f32. Decode is a prefill of the prompt followed by one-token steps through the
model's KV cache (DynamicCache), argmax each step, no early stop. Times are wall clock; tokens_per_s come from the
median step (train: median of the timed steps; decode: median of the per-token steps), because on a shared 2-core
machine a few steps stall for tens of ms while other processes run; decode also reports the plain mean.

Prints one JSON object on stdout:
  {"torch": version, "threads": N, "model": {...dims, "params": n},
   "train": {"batch", "seq", "steps", "step_s": [..], "median_step_s", "tokens_per_s", "loss"},
   "decode": {"batch", "prompt_len", "new_tokens", "prefill_s", "decode_s", "median_token_s", "tokens_per_s",
              "mean_tokens_per_s", "prefill_tokens_per_s"},
   "prefill": {"batch", "len", "runs_s": [..], "median_s", "tokens_per_s"}}   (with --prefill-batch)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


sys.path.insert(0, os.path.join(ROOT, "infra"))
from py_venv import ensure_venv  # noqa: E402  (shared bootstrap of the project venv)

QWEN3_06B = dict(
    model_type="qwen3", hidden_size=1024, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
    intermediate_size=3072, vocab_size=151936, rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
    max_position_embeddings=40960, num_hidden_layers=28,
)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["tiny", "qwen3-0.6b"], default="tiny")
    p.add_argument("--config")
    p.add_argument("--layers", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int)
    p.add_argument("--seq", type=int)
    p.add_argument("--train-steps", type=int, default=5)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--decode-tokens", type=int)
    p.add_argument("--decode-batch", type=int, default=1)
    p.add_argument("--prefill-batch", type=int, default=0)
    p.add_argument("--prefill-len", type=int, default=0)
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--skip-decode", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    big = a.config is None and a.model == "qwen3-0.6b"
    a.batch = a.batch or (1 if big else 4)
    a.seq = a.seq or (128 if big else 256)
    a.decode_tokens = a.decode_tokens or (16 if big else 64)
    if a.layers is None and big:
        a.layers = 2
    for name in ("threads", "batch", "seq", "train_steps", "prompt_len", "decode_tokens", "decode_batch"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    return a


def load_config(a):
    if a.config:
        with open(a.config) as f:
            raw = json.load(f)
    elif a.model == "tiny":
        with open(os.path.join(ROOT, "recipes", "models", "tiny", "config.json")) as f:
            raw = json.load(f)
    else:
        raw = dict(QWEN3_06B)
    if a.layers is not None:
        raw["num_hidden_layers"] = a.layers
    return raw


def main():
    a = parse_args()
    ensure_venv()
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM
    from transformers.cache_utils import DynamicCache

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    raw = load_config(a)
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
            "intermediate_size", "vocab_size", "rope_theta", "rms_norm_eps", "tie_word_embeddings",
            "max_position_embeddings")
    cfg = Qwen3Config(**{k: raw[k] for k in keys if k in raw})
    cfg._attn_implementation = "sdpa"
    model = Qwen3ForCausalLM(cfg).float()
    params = sum(p.numel() for p in model.parameters())
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "model": {**{k: getattr(cfg, k) for k in keys}, "params": params},
    }
    gen = torch.Generator().manual_seed(a.seed + 1)

    if not a.skip_train:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.01)
        ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), generator=gen)
        mask = torch.ones(a.batch, a.seq - 1)
        mask[:, : a.seq // 4] = 0  # the "prompt" part carries no loss

        def step():
            logits = model(input_ids=ids).logits[:, :-1]
            ce = torch.nn.functional.cross_entropy(
                logits.reshape(-1, cfg.vocab_size), ids[:, 1:].reshape(-1), reduction="none"
            ).view(a.batch, a.seq - 1)
            loss = (ce * mask).sum() / mask.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return float(loss.detach())

        step()  # warm-up: allocator, optimizer state
        times, loss = [], None
        for _ in range(a.train_steps):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        result["train"] = {
            "batch": a.batch, "seq": a.seq, "steps": a.train_steps, "step_s": times, "median_step_s": med,
            "tokens_per_s": a.batch * a.seq / med, "loss": loss,
        }

    if not a.skip_decode:
        model.eval()
        prompt = torch.randint(0, cfg.vocab_size, (a.decode_batch, a.prompt_len), generator=gen)

        def decode():
            with torch.inference_mode():
                cache = DynamicCache()
                t0 = time.perf_counter()
                # Explicit cache positions, as generate() passes them: without them transformers 4.57 rebuilds
                # position bookkeeping every step and a tiny model's decode runs ~30x slower than generate().
                out = model(input_ids=prompt, past_key_values=cache, use_cache=True, cache_position=torch.arange(a.prompt_len))
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
                prefill_s = time.perf_counter() - t0
                step_s = []
                for i in range(a.decode_tokens - 1):
                    t1 = time.perf_counter()
                    pos = torch.tensor([a.prompt_len + i])
                    out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True, cache_position=pos)
                    nxt = out.logits[:, -1].argmax(-1, keepdim=True)
                    step_s.append(time.perf_counter() - t1)
            return prefill_s, step_s

        decode()  # warm-up
        prefill_s, step_s = decode()
        # The first new token comes out of the prefill, so there are new_tokens - 1 cached steps.
        med = statistics.median(step_s) if step_s else None
        result["decode"] = {
            "batch": a.decode_batch, "prompt_len": a.prompt_len, "new_tokens": a.decode_tokens,
            "prefill_s": prefill_s, "decode_s": sum(step_s), "median_token_s": med,
            "tokens_per_s": a.decode_batch / med if med else None,
            "mean_tokens_per_s": a.decode_batch * len(step_s) / sum(step_s) if step_s else None,
            "prefill_tokens_per_s": a.decode_batch * a.prompt_len / prefill_s,
        }

    if a.prefill_batch > 0 and a.prefill_len > 0:
        model.eval()
        prompts = torch.randint(0, cfg.vocab_size, (a.prefill_batch, a.prefill_len), generator=gen)

        def prefill():
            with torch.inference_mode():
                t0 = time.perf_counter()
                model(input_ids=prompts, past_key_values=DynamicCache(), use_cache=True,
                      cache_position=torch.arange(a.prefill_len), logits_to_keep=1)
                return time.perf_counter() - t0

        prefill()  # warm-up
        runs = [prefill() for _ in range(3)]
        med = statistics.median(runs)
        result["prefill"] = {"batch": a.prefill_batch, "len": a.prefill_len, "runs_s": runs, "median_s": med,
                             "tokens_per_s": a.prefill_batch * a.prefill_len / med}

    print(json.dumps(result))


if __name__ == "__main__":
    main()
