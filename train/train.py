"""Train the bundled default model of fairy2i-wasm: float pre-training, then QAT (Fairy2i W2, W1, ternary).

    /usr/bin/python3 train/train.py all            # corpus -> tokenizer -> fp -> qat-w2 -> qat-w1 -> ternary -> eval
    /usr/bin/python3 train/train.py all --smoke    # tiny end-to-end check (about a minute), in train/out/smoke
    /usr/bin/python3 train/train.py {corpus,fp,qat-w2,qat-w1,ternary,eval}   # one step

Everything is seeded; outputs go to train/out/ (see README.md).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import sentencepiece as spm  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
from export import export_hf  # noqa: E402
from model import Config, Llama  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BOS, EOS = 1, 2
SEED = 1234

FULL = dict(
    config=Config(vocab_size=4096, dim=256, n_layers=6, n_heads=8, n_kv_heads=4, ffn_dim=688, ctx=256),
    batch=16, fp_steps=600, fp_lr=2e-3, fp_warmup=40, qat_steps=200, qat_lr=1e-3, qat_warmup=20,
    min_lr_frac=0.1, weight_decay=0.1, eval_every=100, log_every=10,
)
SMOKE = dict(
    config=Config(vocab_size=4096, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=128, ctx=64),
    batch=4, fp_steps=30, fp_lr=2e-3, fp_warmup=5, qat_steps=10, qat_lr=1e-3, qat_warmup=2,
    min_lr_frac=0.1, weight_decay=0.1, eval_every=15, log_every=5, eval_docs=60,
)

# variant -> (QLinear mode during QAT, what the engine runs: convert --stages N)
QAT = {"qat-w2": ("pq2", 2), "qat-w1": ("pq1", 1), "ternary": ("ternary", 0)}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- data

def load_data(out):
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
    with open(os.path.join(out, "train.txt"), encoding="utf-8") as f:
        train = [l for l in f.read().split("\n") if l.strip()]
    with open(os.path.join(out, "heldout.txt"), encoding="utf-8") as f:
        held = [l for l in f.read().split("\n") if l.strip()]
    stream, starts = [], []
    for ids in sp.encode(train):
        starts.append(len(stream))
        stream += ids + [EOS]
    return sp, torch.tensor(stream, dtype=torch.long), torch.tensor(starts), held


def get_batch(stream, starts, batch, ctx, gen):
    """Windows [BOS] + stream[s : s+ctx-1] starting at random verse starts s (targets stream[s : s+ctx])."""
    valid = starts[starts + ctx <= len(stream)]
    s = valid[torch.randint(len(valid), (batch,), generator=gen)]
    idx = s[:, None] + torch.arange(ctx)[None, :]
    y = stream[idx]
    x = torch.cat([torch.full((batch, 1), BOS), y[:, :-1]], dim=1)
    return x, y


def eval_windows(sp, docs, ctx):
    """The engine's `ppl` protocol: documents = non-empty lines, each tokenized without BOS and followed
    by EOS; a window starts with BOS and packs whole documents (in order) while it has <= ctx tokens; a
    document longer than ctx - 1 tokens is split into pieces of ctx - 1, each in its own window. Every
    token after the BOS is scored."""
    windows, cur = [], [BOS]
    for ids in sp.encode(docs):
        toks = ids + [EOS]
        if len(cur) + len(toks) > ctx and len(cur) > 1:
            windows.append(cur)
            cur = [BOS]
        while len(toks) > ctx - 1:
            windows.append([BOS] + toks[:ctx - 1])
            toks = toks[ctx - 1:]
        cur += toks
    if len(cur) > 1:
        windows.append(cur)
    return windows


@torch.no_grad()
def perplexity(model, windows):
    model.eval()
    nll, n = 0.0, 0
    for w in windows:
        t = torch.tensor(w)[None]
        logits = model(t[:, :-1]).double()
        nll += float(F.cross_entropy(logits[0], t[0, 1:], reduction="sum"))
        n += len(w) - 1
    model.train()
    return {"ppl": math.exp(nll / n), "nll_sum": nll, "tokens": n, "windows": len(windows)}


def baked(model, mode):
    """A copy whose linear weights are the dequantized weights of `mode`, running in float (mode fp)."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for q in m.qlinears():
            q.mode = mode
            q.weight.copy_(q.quantized_weight())
            q.mode = "fp"
    return m


@torch.no_grad()
def sample(model, sp, prompt, n=40):
    model.eval()
    ids = [BOS] + sp.encode(prompt)
    for _ in range(n):
        logits = model(torch.tensor(ids[-model.c.ctx:])[None])[0, -1]
        nxt = int(logits.argmax())
        if nxt == EOS:
            break
        ids.append(nxt)
    model.train()
    return sp.decode(ids[1:])


# ---------------------------------------------------------------- training

def lr_at(step, steps, peak, warmup, min_frac):
    if step < warmup:
        return peak * (step + 1) / warmup
    p = (step - warmup) / max(1, steps - warmup)
    return peak * (min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def train_phase(model, H, data, steps, peak, warmup, seed, name, eval_docs):
    sp, stream, starts, held = data
    c = model.c
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": H["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}], lr=peak, betas=(0.9, 0.95), eps=1e-8)
    windows = eval_windows(sp, eval_docs, c.ctx)
    t0, tok, tlog, history = time.time(), 0, time.time(), []
    for step in range(steps):
        lr = lr_at(step, steps, peak, warmup, H["min_lr_frac"])
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = get_batch(stream, starts, H["batch"], c.ctx, gen)
        loss = F.cross_entropy(model(x).reshape(-1, c.vocab_size), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tok += x.numel()
        if (step + 1) % H["log_every"] == 0 or step == 0:
            el = time.time() - t0
            log(f"{name} step {step + 1}/{steps} loss {loss.item():.4f} lr {lr:.2e} "
                f"{tok / el:.0f} tok/s elapsed {el / 60:.1f} min")
        if (step + 1) % H["eval_every"] == 0 or step + 1 == steps:
            mode = model.qlinears()[0].mode
            r = perplexity(baked(model, mode), windows)
            history.append({"step": step + 1, "train_loss": loss.item(), "heldout_ppl": r["ppl"]})
            log(f"{name} step {step + 1} heldout ppl {r['ppl']:.3f} ({r['tokens']} tokens)")
    el = time.time() - t0
    return {"steps": steps, "tokens": tok, "seconds": el, "tok_per_s": tok / el, "history": history}


def info_for(variant, H, stats, extra):
    return {"variant": variant, "model_config": H["config"].to_dict(),
            "corpus": "King James Bible (Debian bible-kjv-text), every 50th chapter held out",
            "training": stats, **extra}


def cmd_corpus(out, H):
    train, held = corpus.build(out, H["config"].vocab_size)
    log(f"corpus: {len(train)} train verses, {len(held)} held-out verses; tokenizer {H['config'].vocab_size}")


def cmd_fp(out, H, data, eval_docs):
    torch.manual_seed(SEED)
    model = Llama(H["config"])
    n = sum(p.numel() for p in model.parameters())
    log(f"fp: model {H['config'].to_dict()} params {n}")
    stats = train_phase(model, H, data, H["fp_steps"], H["fp_lr"], H["fp_warmup"], SEED + 1, "fp", eval_docs)
    torch.save(model.state_dict(), os.path.join(out, "fp.pt"))
    export_hf(os.path.join(out, "hf-fp"), model.c, model.hf_state_dict(), os.path.join(out, "tokenizer.model"),
              info_for("fp", H, stats, {"weights": "float32 pre-trained weights; run with convert --stages 0"}))
    log(f"fp: done, {stats['tok_per_s']:.0f} tok/s, {stats['seconds'] / 60:.1f} min")


def cmd_qat(out, H, data, variant, eval_docs):
    mode, stages = QAT[variant]
    torch.manual_seed(SEED)
    model = Llama(H["config"])
    model.load_state_dict(torch.load(os.path.join(out, "fp.pt")))
    model.set_mode(mode)
    seed = SEED + {"qat-w2": 2, "qat-w1": 3, "ternary": 4}[variant]
    stats = train_phase(model, H, data, H["qat_steps"], H["qat_lr"], H["qat_warmup"], seed, variant, eval_docs)
    torch.save(model.state_dict(), os.path.join(out, f"{variant}.pt"))
    if variant == "ternary":
        tensors = baked(model, "ternary").hf_state_dict()
        what = "already-ternarized (BitNet b1.58 absmean, per tensor) dequantized weights; run with convert --stages 0"
    else:
        tensors = model.hf_state_dict()
        what = (f"real-valued QAT master weights (trained with PhaseQuant V{stages} + STE); "
                f"run with convert --stages {stages}")
    export_hf(os.path.join(out, f"hf-{variant}"), model.c, tensors, os.path.join(out, "tokenizer.model"),
              info_for(variant, H, stats, {"weights": what, "qat_mode": mode}))
    log(f"{variant}: done, {stats['tok_per_s']:.0f} tok/s, {stats['seconds'] / 60:.1f} min")


def cmd_eval(out, H, data, eval_docs):
    sp = data[0]
    c = H["config"]
    windows = eval_windows(sp, eval_docs, c.ctx)
    rows = [  # (name, torch checkpoint, quantizer mode at eval, exported dir, engine convert stages)
        ("fp", "fp", "fp", "hf-fp", 0),
        ("fp-ptq-w2", "fp", "pq2", "hf-fp", 2),
        ("fp-ptq-w1", "fp", "pq1", "hf-fp", 1),
        ("fp-ptq-ternary", "fp", "ternary", None, None),
        ("qat-w2", "qat-w2", "pq2", "hf-qat-w2", 2),
        ("qat-w2-master-fp", "qat-w2", "fp", "hf-qat-w2", 0),
        ("qat-w1", "qat-w1", "pq1", "hf-qat-w1", 1),
        ("ternary", "ternary", "ternary", "hf-ternary", 0),
    ]
    result = {"protocol": eval_windows.__doc__.split("\n")[0] + " " + " ".join(
                  l.strip() for l in eval_windows.__doc__.split("\n")[1:]),
              "heldout": "heldout.txt", "context": c.ctx, "variants": {}}
    for name, ckpt, mode, hf, stages in rows:
        path = os.path.join(out, f"{ckpt}.pt")
        if not os.path.exists(path):
            continue
        model = Llama(c)
        model.load_state_dict(torch.load(path))
        m = baked(model, mode)
        r = perplexity(m, windows)
        r.update({"checkpoint": hf, "engine": None if stages is None else f"convert --stages {stages}",
                  "sample": sample(m, sp, "And God said")})
        result["variants"][name] = r
        log(f"eval {name:18s} ppl {r['ppl']:8.3f}  | {r['sample']!r}")
    with open(os.path.join(out, "torch_ppl.json"), "w") as f:
        json.dump(result, f, indent=2)
    log(f"wrote {os.path.join(out, 'torch_ppl.json')}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["all", "corpus", "fp", "qat-w2", "qat-w1", "ternary", "eval"])
    ap.add_argument("--smoke", action="store_true", help="tiny model and few steps, into train/out/smoke")
    ap.add_argument("--out", default=None, help="output directory (default train/out or train/out/smoke)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    H = SMOKE if a.smoke else FULL
    out = a.out or os.path.join(HERE, "out", "smoke" if a.smoke else "")
    out = os.path.normpath(out)
    os.makedirs(out, exist_ok=True)
    log(f"out {out}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    t0 = time.time()
    if a.cmd in ("all", "corpus"):
        cmd_corpus(out, H)
        if not a.smoke:
            held = os.path.join(out, "heldout.txt")
            if os.path.getsize(held) < 1 << 20:
                shutil.copyfile(held, os.path.join(HERE, "heldout.txt"))
    if a.cmd == "corpus":
        return
    data = load_data(out)
    eval_docs = data[3][:H["eval_docs"]] if "eval_docs" in H else data[3]
    if a.cmd in ("all", "fp"):
        cmd_fp(out, H, data, eval_docs)
    for v in QAT:
        if a.cmd in ("all", v):
            cmd_qat(out, H, data, v, eval_docs)
    if a.cmd in ("all", "eval"):
        cmd_eval(out, H, data, eval_docs)
    log(f"{a.cmd}: finished in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
