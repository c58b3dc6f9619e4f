"""The checkpoint family seam (clap_core.family): a new family is one module plus one registry row; names are read
once and refused in one line; MS-CLAP owns its fp32 front end; no family imports the registry."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import torch

from clap_core import checkpoints
from clap_core.embed import Embedder
from clap_core.family import KnownCheckpoint, OwnFrontEnd, Rebuildable, Target, Weights, fingerprint
from conftest import ROOT


# -- a family of its own, as a new module would define it ----------------------------------------------------------
class DummyFamily:
    """Claims names starting with "dummy:"; loads a tiny random-weight transformers ClapModel."""

    name = "dummy"

    def claims(self, target: Target) -> bool:
        return target.name.startswith("dummy:")

    def load(self, target: Target, step) -> Weights:
        from tiny import tiny_config
        from transformers import ClapModel

        from clap_core.training import build_processor, build_tokenizer

        step("building a tiny random model")
        tok = build_tokenizer(300)
        torch.manual_seed(0)
        model, processor = ClapModel(tiny_config(vocab_size=len(tok))), build_processor(tok)
        fe = processor.feature_extractor
        return Weights(source=target.name, fingerprint=fingerprint(target.name, local=False), model=model,
                       processor=processor, sampling_rate=fe.sampling_rate, window_seconds=fe.nb_max_samples / fe.sampling_rate,
                       truncation=fe.truncation, fusion=False, embed_dim=model.config.projection_dim, family=self.name)


@pytest.fixture
def dummy_registered(monkeypatch):
    """Registered as a real family is: one entry in FAMILIES, one registry row."""
    monkeypatch.setattr(checkpoints, "FAMILIES", (*checkpoints.FAMILIES, DummyFamily()))
    row = KnownCheckpoint("dummy:tiny", "dummy", 0.01, 0, "rand_trunc", "a family defined by a test")
    monkeypatch.setattr(checkpoints, "KNOWN_CHECKPOINTS", (*checkpoints.KNOWN_CHECKPOINTS, row))


def test_a_new_family_is_one_module_and_one_row(dummy_registered):
    steps = []
    ck = checkpoints.load_checkpoint("dummy:tiny", device="cpu", on_step=steps.append)
    assert ck.family == "dummy" and ck.precision == "fp32" and ck.device == "cpu" and ck.embed_dim == 16
    assert steps == ["building a tiny random model", "moving the model to cpu"]  # the shared ending ran once
    assert ck.tau == pytest.approx(float(torch.exp(ck.model.logit_scale_a.detach())), rel=1e-6)
    assert ck.n_params == sum(p.numel() for p in ck.model.parameters())
    emb = Embedder(ck)
    rate = ck.sampling_rate
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    audio, text = emb.embed_audio([tone]), emb.embed_texts(["a steady tone", "white noise"])
    assert audio.shape == (1, 16) and text.shape == (2, 16)
    assert np.allclose(np.linalg.norm(audio, axis=1), 1, atol=1e-5) and np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
    other = checkpoints.load_checkpoint("dummy:other", device="cpu")  # no row: the family's claim takes it
    assert other.family == "dummy" and other.fingerprint != ck.fingerprint
    assert checkpoints.check("dummy:anything") is None


def test_without_registration_the_name_is_nobodys():
    assert "neither 'bundled'" in checkpoints.check("dummy:tiny")
    with pytest.raises(checkpoints.CheckpointError, match="neither"):
        checkpoints.load_checkpoint("dummy:tiny")


def test_check_says_in_one_line_what_is_wrong_with_a_name(tmp_path, tiny_checkpoint):
    (tmp_path / "file.bin").write_bytes(b"x")
    bert, broken, huge = tmp_path / "bert", tmp_path / "broken", tmp_path / "huge"
    for folder, text in ((bert, '{"model_type": "bert"}'), (broken, "{not json"),
                         (huge, '{"model_type": "msclap", "pad": "' + "x" * 2**20 + '"}')):
        folder.mkdir()
        (folder / "config.json").write_text(text)
    assert checkpoints.check(str(tmp_path / "file.bin")).endswith("is a file; give the folder that holds config.json "
                                                                  "and the weights (or an MS-CLAP .pth)")
    assert checkpoints.check(str(tmp_path)).endswith("has no config.json: not a saved transformers checkpoint")
    assert "holds a 'bert' model, not a CLAP checkpoint" in checkpoints.check(str(bert))
    assert "config.json cannot be read" in checkpoints.check(str(broken))
    assert checkpoints.check(str(huge)) is None  # MS-CLAP's by its first bytes: its loader refuses the size
    for fine in ("bundled", "msclap-2022", "laion/clap-htsat-unfused", "someone/else", str(tiny_checkpoint)):
        assert checkpoints.check(fine) is None, fine
    assert checkpoints.check(str(tmp_path / "x.pth")).startswith(repr(str(tmp_path / "x.pth")))  # missing


def test_every_registry_row_names_a_family():
    names = {f.name for f in checkpoints.FAMILIES}
    assert names == {"clap", "msclap"} and all(k.family in names for k in checkpoints.KNOWN_CHECKPOINTS)
    assert {k.variant for k in checkpoints.KNOWN_CHECKPOINTS if k.family == "msclap"} == {"2022", "2023"}


def test_the_optional_members_are_declared_protocols(bundled):
    from clap_core.msclap import VERSIONS, MsClapModel

    assert not isinstance(bundled.model, Rebuildable) and not isinstance(bundled.processor.feature_extractor, OwnFrontEnd)
    with torch.device("meta"):
        model = MsClapModel(VERSIONS["2023"])
    assert isinstance(model, Rebuildable)


def test_msclap_owns_its_front_end_and_keeps_it_fp32(tmp_path):
    from transformers import BertConfig

    from clap_core.msclap import VERSIONS, MsClapModel
    from clap_core.msclap.loading import read_folder

    torch.manual_seed(0)
    small = {"out_emb": 16, "audio": {"widths": [4, 4, 4, 4, 8, 16]}}
    model = MsClapModel(VERSIONS["2022"], BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                                     intermediate_size=64), small)
    model.front_end.melW.fill_(0.5)
    assert not any(k.startswith("front_end") for k in model.state_dict())  # counted apart from the towers
    model.to(torch.bfloat16)
    assert model.text_projection.linear1.weight.dtype == torch.bfloat16 and model.front_end.melW.dtype == torch.float32
    twin = model.fresh()
    assert twin.front_end is model.front_end and twin.text_projection is not model.text_projection
    model.float().save_pretrained(tmp_path / "saved")  # model.py saves itself: no import of the loader
    _version, back, front = read_folder(tmp_path / "saved")
    assert back.front_end is front and torch.equal(front.melW, model.front_end.melW)


FAMILY_MODULES = ("clap_core/family.py", "clap_core/clap_family.py", *(f"clap_core/msclap/{m}.py" for m in
                                                                         ("__init__", "family", "loading", "model", "checks")))


@pytest.mark.parametrize("module", FAMILY_MODULES)
def test_no_family_imports_the_registry(module):
    tree = ast.parse((ROOT / module).read_text())
    found = {(n.level, n.module) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    found |= {(0, a.name) for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any((mod or "").endswith("checkpoints") for _level, mod in found), found
    if module.endswith("model.py"):
        assert not any((mod or "").endswith("loading") for _level, mod in found), found
