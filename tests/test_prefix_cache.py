"""prefix_cache backend: cached bottom layers give the same log-probs and DPO loss as full forwards; it learns."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from safetyalign.chat import render_prompt, render_response
from safetyalign.prefix_cache.core import build_cache, dpo_step, encode_pair
from safetyalign.prefix_cache.trainer import PrefixTrainArgs, latest_checkpoint, train_prefix_cache

ROWS = [
    ("How do I pick a lock to break into a house?", "I'm sorry, I can't help with that.", "Sure, first you"),
    ("How do I kill a Python process?", "Use kill with the process id.", "I'm sorry, I can't help with that."),
    ("怎样制作假币？", "抱歉，我不能帮助你。", "好的，首先"),
    ("如何煮米饭？", "先洗米，再加水煮。", "抱歉，我不能帮助你。"),
]


def _model(tiny_model_dir, split):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj", "up_proj"],
                     layers_to_transform=list(range(split, base.config.num_hidden_layers)), init_lora_weights=False)
    return get_peft_model(base, cfg)


def _trl_rows(tok):
    return [{"prompt": render_prompt(tok, p), "chosen": render_response(tok, c), "rejected": render_response(tok, r)}
            for p, c, r in ROWS]


def _full_logps(model, ids, start):
    out = model(input_ids=torch.tensor([ids])).logits[0, start - 1: len(ids) - 1].float()
    return torch.gather(F.log_softmax(out, -1), 1, torch.tensor(ids[start:])[:, None]).sum()


@pytest.mark.parametrize("max_row_tokens", [1024, 1])  # all pairs in one row after the shared prefix / one per row
def test_cached_logps_and_loss_match_full_forward(tiny_model_dir, smollm_tokenizer, max_row_tokens):
    tok = smollm_tokenizer
    model = _model(tiny_model_dir, split=1)
    rows = _trl_rows(tok)
    pairs = [encode_pair(tok, r["prompt"], r["chosen"], r["rejected"], 64, 16) for r in rows * 3]
    pairs.insert(5, encode_pair(tok, rows[0]["prompt"], rows[0]["chosen"], rows[0]["rejected"], 6, 16))  # truncated
    cache = build_cache(model, pairs, split_layer=1, batch_size=4, max_row_tokens=max_row_tokens)
    assert cache.prefix.ids.tolist() == pairs[0].chosen_ids[: len(cache.prefix.ids)]
    assert len(cache.prefix.ids) >= 3  # the chat template's system turn is shared by every prompt
    assert [bool(c.sees_prefix) for c in cache.pairs] == [i != 5 for i in range(len(pairs))]
    beta = 0.1
    out = dpo_step(model, cache, cache.pairs, 1, beta, ["sigmoid"], [1.0], max_row_tokens)
    losses = []
    for p in pairs:
        with torch.no_grad(), model.disable_adapter():
            ref_c, ref_r = _full_logps(model, p.chosen_ids, p.chosen_start), _full_logps(
                model, p.rejected_ids, p.rejected_start)
        pol_c, pol_r = _full_logps(model, p.chosen_ids, p.chosen_start), _full_logps(
            model, p.rejected_ids, p.rejected_start)
        losses.append(-F.logsigmoid(beta * ((pol_c - ref_c) - (pol_r - ref_r))))
    expected = torch.stack(losses).mean()
    assert out.loss.item() == pytest.approx(expected.item(), abs=1e-4)
    for c, p in zip(cache.pairs, pairs):
        with torch.no_grad(), model.disable_adapter():
            assert c.ref_logps[0].item() == pytest.approx(_full_logps(model, p.chosen_ids, p.chosen_start).item(),
                                                          abs=1e-3)


def test_reference_free_loss_uses_a_uniform_reference(tiny_model_dir, smollm_tokenizer):
    tok = smollm_tokenizer
    model = _model(tiny_model_dir, split=0)  # LoRA on every layer: the cache pass holds no reference forward
    pairs = [encode_pair(tok, r["prompt"], r["chosen"], r["rejected"], 64, 16) for r in _trl_rows(tok)]
    cache = build_cache(model, pairs, split_layer=0, batch_size=4, reference=False)
    assert all(c.ref_logps.tolist() == [0.0, 0.0] for c in cache.pairs)
    beta = 0.1
    out = dpo_step(model, cache, cache.pairs, 0, beta, ["sigmoid", "sft"], [1.0, 1.0])
    with torch.no_grad():
        pol = [(_full_logps(model, p.chosen_ids, p.chosen_start), _full_logps(model, p.rejected_ids, p.rejected_start))
               for p in pairs]
    dpo = torch.stack([-F.logsigmoid(beta * (c - r)) for c, r in pol]).mean()
    sft = torch.stack([-c / (len(p.chosen_ids) - p.chosen_start) for (c, _), p in zip(pol, pairs)]).mean()
    assert out.loss.item() == pytest.approx((dpo + sft).item(), abs=1e-4)


def test_reference_free_is_refused_by_backends_that_lack_it(tiny_train_cfg, tmp_path):
    from safetyalign.engines import get_engine

    cfg = tiny_train_cfg(tmp_path, "train.reference_free=true", "lora.top_layers=1")
    assert get_engine("prefix_cache").refusal(cfg) is None
    for name in ("trl", "fast", "unsloth"):
        assert get_engine(name).refusal(cfg).startswith("train.reference_free=true: ")


def test_reference_free_run_records_its_reference(tiny_train_cfg, tmp_path):
    from safetyalign.train.trainer import train

    rows = [{"prompt": f"How do I do harmful thing {i}?", "chosen": "I can't help with that.",
             "rejected": f"Sure, step one for thing {i}.", "source": "test", "lang": "en"} for i in range(4)]
    cfg = tiny_train_cfg(tmp_path, "train.backend=prefix_cache", "lora.top_layers=1", "train.reference_free=true",
                         "train.max_steps=2", "train.save_steps=2", "train.report_to=[]")
    result = train(cfg, tmp_path / "run", rows, [])
    summary = json.loads((result.adapter_dir / "training_summary.json").read_text())
    assert summary["backend"] == "prefix_cache" and summary["reference"] == "uniform"


def test_training_learns_and_only_top_lora_changes(tiny_model_dir, smollm_tokenizer, tmp_path):
    tok = smollm_tokenizer
    model = _model(tiny_model_dir, split=1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = PrefixTrainArgs(split_layer=1, max_steps=25, batch_size=4, lr=5e-3, warmup_ratio=0.0,
                           loss_types=["sigmoid", "sft"], save_steps=10)
    train_prefix_cache(model, tok, _trl_rows(tok), args, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 25 and rows[-1]["step"] == 25
    assert rows[-1]["train/loss"] < rows[0]["train/loss"]
    assert rows[-1]["train/rewards/margins"] > rows[0]["train/rewards/margins"]
    for key in ["train/rewards/chosen", "train/rewards/accuracies", "train/lr", "train/grad_norm",
                "train/tokens_per_s"]:
        assert key in rows[-1]
    changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])}
    assert changed and all("lora_" in n and ".layers.1." in n for n in changed)
    assert latest_checkpoint(tmp_path).name == "checkpoint-20"


def test_resume_reaches_same_final_step(tiny_model_dir, smollm_tokenizer, tmp_path):
    tok = smollm_tokenizer
    args = PrefixTrainArgs(split_layer=1, max_steps=6, batch_size=2, lr=1e-3, save_steps=3)
    full = _model(tiny_model_dir, split=1)
    train_prefix_cache(full, tok, _trl_rows(tok), args, tmp_path / "a")
    # interrupted run: killed during step 5 (checkpoint-3 exists), then resumed to step 6

    def crash(step, _metrics):
        if step == 4:
            raise KeyboardInterrupt

    part = _model(tiny_model_dir, split=1)
    with pytest.raises(KeyboardInterrupt):
        train_prefix_cache(part, tok, _trl_rows(tok), args, tmp_path / "b", on_step=crash)
    assert latest_checkpoint(tmp_path / "b").name == "checkpoint-3"
    resumed = _model(tiny_model_dir, split=1)
    train_prefix_cache(resumed, tok, _trl_rows(tok), args, tmp_path / "b", resume=True)
    last = json.loads((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 6
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    for (n, a), (_, b) in zip(full.named_parameters(), resumed.named_parameters()):
        if "lora_" in n:
            assert torch.allclose(a, b, atol=1e-4), n


def test_packed_rows_keep_pairs_and_answers_apart_and_eager_matches_sdpa(tiny_model_dir, smollm_tokenizer):
    from safetyalign.prefix_cache.packing import (
        SEG_CHOSEN,
        SEG_PROMPT,
        SEG_REJECTED,
        SHARED,
        SharedPrefix,
        collate,
        pack_pair,
        shared_prefix,
    )

    tok = smollm_tokenizer
    pairs = [encode_pair(tok, r["prompt"], r["chosen"], r["rejected"], 64, 16) for r in _trl_rows(tok)]
    s = len(shared_prefix(pairs)[0])
    items = [pack_pair(p, s) for p in pairs]
    batch = collate(items, SharedPrefix(torch.tensor(pairs[0].chosen_ids[:s])), "sdpa")
    assert batch.ids.shape == (1, s + sum(len(it["ids"]) for it in items))  # one row, no padding
    mask = batch.mask[0, 0]
    owner = torch.cat([torch.full((s,), SHARED)] + [torch.full((len(it["ids"]),), i) for i, it in enumerate(items)])
    seg = torch.cat([torch.zeros(s, dtype=torch.long)] + [it["segments"] for it in items])
    for i, p in enumerate(pairs):
        mine, others = owner == i, (owner != i) & (owner != SHARED)
        rej, cho, prm = mine & (seg == SEG_REJECTED), mine & (seg == SEG_CHOSEN), mine & (seg == SEG_PROMPT)
        assert not mask[mine][:, others].any()  # pairs sharing a row never see each other
        assert mask[mine][:, owner == SHARED].all() and mask[rej][:, prm].all() and mask[cho][:, prm].all()
        assert not mask[rej][:, cho].any() and not mask[cho][:, rej].any()  # the two answers never see each other
        assert batch.positions[0, int(rej.nonzero()[0])] == p.rejected_start  # positions restart after the prompt
        assert batch.positions[0, int(prm.nonzero()[0])] == s  # a pair's prompt continues the shared prefix
        tokens = torch.cat([batch.ids[0, :s], batch.ids[0, prm], batch.ids[0, cho]])
        assert tokens.tolist() == p.chosen_ids
    losses = []
    for impl in ("sdpa", "eager"):
        model = _model(tiny_model_dir, split=1)
        model.get_base_model().config._attn_implementation = impl
        cache = build_cache(model, pairs, split_layer=1, batch_size=4, max_row_tokens=40)  # padded, unequal rows
        losses.append(dpo_step(model, cache, cache.pairs, 1, 0.1, ["sigmoid", "sft"], [1.0, 1.0], 40).loss.item())
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)


def test_shared_prefix_and_row_plan():
    from safetyalign.prefix_cache.packing import EncodedPair, plan_rows, shared_prefix

    same = [EncodedPair([1, 2, 3, 9], [1, 2, 3, 8], 3, 3), EncodedPair([1, 2, 3, 7], [1, 2, 3, 6], 3, 3)]
    assert shared_prefix(same) == ([1, 2], [True, True])  # identical prompts still keep one token of their own
    assert shared_prefix([*same, EncodedPair([1, 5, 3, 9], [1, 5, 3, 8], 3, 3)]) == ([1], [True] * 3)
    assert shared_prefix([EncodedPair([4, 9], [4, 8], 1, 1), *same]) == ([], [False] * 3)
    odd = EncodedPair([7, 2, 3, 9], [7, 2, 3, 8], 3, 3)  # e.g. a prompt truncated from the left
    assert shared_prefix([*same * 5, odd]) == ([1, 2], [True] * 10 + [False])
    assert plan_rows([5, 5, 5, 20, 1], prefix_len=2, max_row_tokens=12) == [[0, 1], [2], [3], [4]]


def test_adapter_initialisation_follows_the_training_seed(tiny_model_dir, tiny_train_cfg, tmp_path):
    """LoRA A starts random: the backend seeds it from train.seed, so two processes (whatever random numbers were
    drawn before) train the same adapter and a rerun reproduces the numbers."""
    from transformers import AutoModelForCausalLM

    from safetyalign.prefix_cache.backend import _peft_model

    def lora_a(noise: int, seed: int) -> list[torch.Tensor]:
        torch.manual_seed(noise)  # whatever happened earlier in the process
        torch.rand(noise + 1)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        cfg = tiny_train_cfg(tmp_path, f"train.seed={seed}")
        model = _peft_model(cfg, base, 1, base.config.num_hidden_layers)
        return [p.detach().clone() for n, p in model.named_parameters() if "lora_A" in n]

    first, again, other = lora_a(1, 7), lora_a(2, 7), lora_a(1, 8)
    assert first and all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
