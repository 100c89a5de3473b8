import pytest

from stdp_toolkit.errors import UserError
from stdp_toolkit.lite.text import Vocab, load_sst2, pad_ids, read_sst2, tokenize


def test_tokenize():
    assert tokenize("It's NOT good, isn't it?") == ["it", "'s", "not", "good", ",", "is", "n't", "it", "?"]
    assert tokenize("crème brûlée") == ["crème", "brûlée"]


def test_vocab_and_padding():
    v = Vocab.build([["a", "b", "a"], ["c", "a"]], min_freq=1)
    assert v.itos[:3] == ["<pad>", "<unk>", "a"] and len(v) == 5
    assert v.encode(["a", "zzz"]) == [2, 1]
    assert Vocab.build([["a", "b", "a"]], min_freq=2).itos == ["<pad>", "<unk>", "a"]
    ids, lengths = pad_ids([[2, 3, 4], [5]], max_len=2)
    assert ids.tolist() == [[2, 3], [5, 0]] and lengths.tolist() == [2, 1]


def test_read_sst2_splits(sst2_dir):
    sizes = {s: len(read_sst2(sst2_dir, s)[0]) for s in ("train", "dev", "test")}
    assert sizes == {"train": 67349, "dev": 872, "test": 1821}
    sents, labels = read_sst2(sst2_dir, "test")
    assert set(labels.tolist()) == {0, 1} and sents[0].startswith("no movement")


def test_load_sst2_small(sst2_dir):
    vocab, sp = load_sst2(sst2_dir, max_len=20, train_limit=500, eval_limit=50)
    assert len(sp["train"].labels) == 500 and len(sp["test"].labels) == 50
    assert sp["dev"].ids.shape[1] <= 20 and (sp["dev"].ids < len(vocab)).all()
    assert (sp["test"].ids == 1).mean() > 0  # words unseen in the 500 training phrases become <unk>


def test_bad_tsv(tmp_path):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text("label\tsentence\n2\tbad label\n")
    with pytest.raises(UserError, match="expected"):
        read_sst2(tmp_path, "train")
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\nfoo\t1\n")
    with pytest.raises(UserError, match="header"):
        read_sst2(tmp_path, "dev")
    with pytest.raises(UserError, match="not found"):
        read_sst2(tmp_path, "test")
    with pytest.raises(UserError, match="unknown SST-2 split"):
        read_sst2(tmp_path, "valid")
