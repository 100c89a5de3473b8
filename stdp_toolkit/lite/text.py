"""SST-2 text: reading the TSV files, tokenising, a vocabulary, and padding to id arrays.

Everything is built from the training split (no downloaded tokenizers or embeddings): the tokenizer is a
lower-casing regular-expression word/punctuation splitter and the vocabulary keeps words seen at least
``min_freq`` times in training; the rest map to ``<unk>``.
"""
from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from .events import data_dir_from

PAD, UNK = "<pad>", "<unk>"
SST2_DIR = "sst2"
_TOKEN = re.compile(r"\w+(?=n't)|n't|'\w+|\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case word / clitic / punctuation tokens: ``"It's not GOOD!"`` -> ``['it', "'s", 'not', 'good', '!']``.

    Same convention as the Penn-Treebank tokenisation that SST-2 ships with (``does n't``, ``it 's``).
    """
    return _TOKEN.findall(text.lower())


@dataclass
class Vocab:
    """Token <-> id map; id 0 is padding, id 1 unknown."""

    itos: list[str] = field(default_factory=lambda: [PAD, UNK])

    def __post_init__(self) -> None:
        if self.itos[:2] != [PAD, UNK]:
            raise UserError("a vocabulary must start with '<pad>', '<unk>'")
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        counts = Counter(t for toks in token_lists for t in toks)
        words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            words = words[: max(0, max_size - 2)]
        return cls([PAD, UNK] + words)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids) -> list[str]:
        return [self.itos[i] for i in ids if i != 0]


def read_sst2(data_dir, split: str) -> tuple[list[str], np.ndarray]:
    """Read ``sst2/{split}.tsv`` (header line; label 0/1 first, then the sentence)."""
    if split not in ("train", "dev", "test"):
        raise UserError(f"unknown SST-2 split {split!r}; use train, dev or test")
    path = data_dir_from(data_dir) / SST2_DIR / f"{split}.tsv"
    if not path.is_file():
        raise UserError(f"{path} not found; the data directory must hold sst2/{{train,dev,test}}.tsv")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")      # -sig: a byte-order mark (spreadsheet exports) is not the header
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: byte {exc.start} is not UTF-8 text ({exc.reason}); the file is corrupt or "
                        "in another encoding: save it as UTF-8") from None
    sentences, labels = [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        header = next(reader, None)
        if not header or header[0].strip().lower() != "label":
            raise UserError(f"{path}: expected a header starting with 'label', got {header!r}")
        for row in reader:
            if not row:
                continue
            if len(row) < 2 or row[0].strip() not in ("0", "1"):
                raise UserError(f"{path}:{reader.line_num}: expected '<0|1>\\t<sentence>', got {row!r}")
            sentence = "\t".join(row[1:])
            if not sentence.strip():
                raise UserError(f"{path}:{reader.line_num}: the sentence is empty; fill it in or remove the line")
            labels.append(int(row[0]))
            sentences.append(sentence)
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: not a tab-separated text line ({exc}); the file is corrupt or "
                        "not SST-2") from None
    if not sentences:
        raise UserError(f"{path} holds a header but no labelled sentences; the file is truncated or empty")
    return sentences, np.asarray(labels, dtype=np.int64)


def pad_ids(seqs: list[list[int]], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id lists with 0 (truncating at ``max_len``): ``(ids (N, L), lengths (N,))``."""
    lengths = np.array([min(len(s), max_len) if max_len else len(s) for s in seqs], dtype=np.int64)
    lengths = np.maximum(lengths, 1)
    out = np.zeros((len(seqs), int(lengths.max()) if len(seqs) else 1), dtype=np.int64)
    for i, s in enumerate(seqs):
        s = s[: lengths[i]]
        out[i, : len(s)] = s if s else [1]
    return out, lengths


@dataclass
class TextSplit:
    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray


def load_sst2(data_dir, max_len: int = 64, min_freq: int = 1, train_limit: int | None = None,
              eval_limit: int | None = None, seed: int = 0) -> tuple[Vocab, dict[str, TextSplit]]:
    """Vocabulary from the (possibly subsampled) training split and padded id arrays for all splits."""
    rng = np.random.default_rng(seed)
    splits = {}
    raw = {s: read_sst2(data_dir, s) for s in ("train", "dev", "test")}
    sents, labels = raw["train"]
    if train_limit is not None and train_limit < len(sents):
        idx = np.sort(rng.choice(len(sents), train_limit, replace=False))
        sents, labels = [sents[i] for i in idx], labels[idx]
        raw["train"] = (sents, labels)
    toks = {s: [tokenize(x) for x in raw[s][0]] for s in raw}
    vocab = Vocab.build(toks["train"], min_freq=min_freq)
    for s in raw:
        t, lab = toks[s], raw[s][1]
        if s != "train" and eval_limit is not None:
            t, lab = t[:eval_limit], lab[:eval_limit]
        ids, lengths = pad_ids([vocab.encode(x) for x in t], max_len)
        splits[s] = TextSplit(ids, lengths, lab)
    return vocab, splits
