"""Corpus: the King James Bible from Debian's bible-kjv / bible-kjv-text packages (public domain).

Read out with Debian's `bible` tool (data file /usr/lib/bible.data) as one verse per line. The held-out
split is every 50th chapter (global chapter index % 50 == 25, 24 whole chapters); it is never trained on.
"""
import os
import re
import subprocess

import sentencepiece as spm

HELDOUT_EVERY, HELDOUT_AT = 50, 25
REF = re.compile(r"^(\S+?)(\d+):(\d+) (.*)$")


def read_kjv():
    """[(book, chapter, verse, text)] in canonical order, from `bible -f Gen1:1-Rev22:21`."""
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                         capture_output=True, check=True, text=True, encoding="utf-8").stdout
    verses = []
    for line in out.splitlines():
        if not line.strip():
            continue
        m = REF.match(line)
        assert m, f"unexpected line {line!r}"
        book, ch, vs, text = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()
        verses.append((book, ch, vs, text))
    assert len(verses) == 31102, len(verses)
    return verses


def split_kjv(verses):
    """(train_verses, heldout_verses) as lists of text; heldout = every 50th chapter."""
    train, held = [], []
    chap_idx, last = -1, None
    for book, ch, _, text in verses:
        if (book, ch) != last:
            chap_idx, last = chap_idx + 1, (book, ch)
        (held if chap_idx % HELDOUT_EVERY == HELDOUT_AT else train).append(text)
    return train, held


def train_tokenizer(train_txt, prefix, vocab_size):
    """LLaMA-style SentencePiece BPE (byte fallback, split digits, identity normalization)."""
    spm.SentencePieceTrainer.train(
        input=train_txt, model_prefix=prefix, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, split_digits=True, add_dummy_prefix=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity",
        character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        num_threads=1, input_sentence_size=0, shuffle_input_sentence=False,
        max_sentence_length=16384, minloglevel=2)


def build(out_dir, vocab_size):
    """Write train.txt, heldout.txt and tokenizer.model into out_dir; return (train, held) verse lists."""
    os.makedirs(out_dir, exist_ok=True)
    train, held = split_kjv(read_kjv())
    for name, lines in (("train.txt", train), ("heldout.txt", held)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    train_tokenizer(os.path.join(out_dir, "train.txt"), os.path.join(out_dir, "tokenizer"), vocab_size)
    return train, held
