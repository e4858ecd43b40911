"""Fast DPO path vs a straightforward reference implementation on a tiny random Qwen2 (CPU, float32)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

from safetyalign.fastdpo import FastDPOConfig, FastDPOTrainer, pack_pairs  # noqa: E402
from safetyalign.fastdpo.packing import PackedBatch, dense_mask  # noqa: E402

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def tiny_lora_model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, vocab_size=300, rope_theta=1e6, max_position_embeddings=256,
                                   tie_word_embeddings=False)
    model = transformers.Qwen2ForCausalLM(cfg).float()
    lcfg = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=PROJ, task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, lcfg)
    with torch.no_grad():  # non-zero B so that policy != reference and every LoRA tensor gets a gradient
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model


def random_pairs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)

    def ids(n: int) -> list[int]:
        return torch.randint(0, 300, (n,), generator=g).tolist()

    return [(ids(7), ids(5), ids(9)), (ids(3), ids(8), ids(2)), (ids(11), ids(4), ids(6))]


def reference_seq_logps(model, pairs, use_adapter: bool):
    """Plain per-sequence forward: chosen batch then rejected batch, right-padded, log_softmax over full logits."""
    out = []
    for part in (1, 2):
        seqs = [p[0] + p[part] for p in pairs]
        width = max(map(len, seqs))
        ids = torch.zeros(len(seqs), width, dtype=torch.long)
        att = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s)
            att[i, :len(s)] = 1
        if use_adapter:
            logits = model(input_ids=ids, attention_mask=att).logits
        else:
            with model.disable_adapter():
                logits = model(input_ids=ids, attention_mask=att).logits
        logp = torch.log_softmax(logits.float(), -1)
        for i, (prompt, *_rest) in enumerate(pairs):
            comp = pairs[i][part]
            pos = torch.arange(len(prompt) - 1, len(prompt) + len(comp) - 1)
            out.append(logp[i, pos, torch.tensor(comp)].sum())
    return torch.stack(out)


def reference_loss(model, pairs, beta: float):
    with torch.no_grad():
        ref = reference_seq_logps(model, pairs, use_adapter=False)
    pol = reference_seq_logps(model, pairs, use_adapter=True)
    n = len(pairs)
    margin = (pol[:n] - ref[:n]) - (pol[n:] - ref[n:])
    return -torch.nn.functional.logsigmoid(beta * margin).mean()


def test_pack_pairs_layout_and_mask():
    b = pack_pairs([([1, 2], [3, 4], [5])], pad_to_multiple=8)
    assert b.input_ids.tolist() == [1, 2, 3, 4, 5, 0, 0, 0]
    assert b.position_ids.tolist()[:5] == [0, 1, 2, 3, 2]
    # token 3 is predicted from position 1 (last prompt token); so is token 5 (first rejected token)
    assert b.src_index.tolist() == [1, 2, 1] and b.target_ids.tolist() == [3, 4, 5] and b.group.tolist() == [0, 0, 1]
    m = dense_mask(b)
    assert m[4, :5].tolist() == [True, True, False, False, True]  # rejected sees prompt + itself, not chosen
    assert m[3, :5].tolist() == [True, True, True, True, False]
    with pytest.raises(ValueError, match="pair 0"):
        pack_pairs([([], [1], [2])])


@pytest.mark.parametrize("attention", ["sdpa", "flex"])
def test_fast_loss_and_grads_match_reference(attention):
    pairs = random_pairs()
    model = tiny_lora_model()
    beta = 0.1
    ref_loss = reference_loss(model, pairs, beta)
    ref_loss.backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters() if "lora_" in n}
    model.zero_grad(set_to_none=True)

    # FlexAttention has no CPU backward: for it check the forward (loss) only, with a no-grad reference graph
    cfg = FastDPOConfig(beta=beta, attention=attention, compile=False, logits_chunk=5,
                        exact_reference=attention != "flex")
    trainer = FastDPOTrainer(model, cfg)
    if attention == "flex":
        with torch.no_grad():
            loss, _ = trainer.loss(pairs)
        assert abs(loss.item() - ref_loss.item()) < 1e-5
        return
    loss, _ = trainer.loss(pairs)
    loss.backward()
    assert abs(loss.item() - ref_loss.item()) < 1e-5
    assert abs(ref_loss.item() - 0.693147) > 1e-4  # policy != reference, so the check is not trivial
    for n, p in model.named_parameters():
        if "lora_" in n:
            g, r = p.grad, ref_grads[n]
            assert r.abs().max() > 0
            assert torch.allclose(g, r, rtol=1e-4, atol=1e-6), n


def test_step_updates_adapter_and_loss_goes_down():
    pairs = random_pairs(3)
    model = tiny_lora_model(2)
    trainer = FastDPOTrainer(model, FastDPOConfig(lr=5e-3, compile=False))
    before = [p.detach().clone() for p in trainer.params]
    losses = [trainer.step(pairs)["train/loss"] for _ in range(5)]
    assert all(not torch.equal(a, p) for a, p in zip(before, trainer.params, strict=True))
    assert losses[-1] < losses[0]
    m = trainer.step(pairs)
    assert {"train/loss", "train/rewards/margins", "train/grad_norm"} <= set(m)


def test_accumulated_step_equals_one_packed_step():
    pairs = random_pairs(4)[:2]
    a, b = tiny_lora_model(5), tiny_lora_model(5)
    ta = FastDPOTrainer(a, FastDPOConfig(lr=1e-3, compile=False))
    tb = FastDPOTrainer(b, FastDPOConfig(lr=1e-3, compile=False))
    for t in (ta, tb):  # plain SGD: the update is the (clipped) gradient itself
        t.optimizer = torch.optim.SGD(t.params, lr=1.0)
    ma = ta.step_accumulated([pairs[:1], pairs[1:]])
    mb = tb.step(pairs)
    assert abs(ma["train/loss"] - mb["train/loss"]) < 1e-6
    for pa, pb in zip(ta.params, tb.params, strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_prefetch_changes_no_result(dropout):
    """Preparing the next micro-batch during the step (default) gives the same losses and weights as not doing it,
    with gradient accumulation and LoRA dropout (prefetching draws no random numbers); the prepared batch is used."""
    pairs = random_pairs(6)
    steps = [[pairs[:1], pairs[1:]], [pairs[2:], pairs[:2]], [pairs[1:2], pairs[:1]]]
    results = []
    for prefetch in (False, True):
        model = tiny_lora_model(7)
        for m in model.modules():
            if hasattr(m, "lora_dropout") and "default" in m.lora_dropout:
                m.lora_dropout["default"].p = dropout
        trainer = FastDPOTrainer(model, FastDPOConfig(lr=1e-2, compile=False, prefetch=prefetch))
        prepared = []
        real = trainer.prepare
        trainer.prepare = lambda p, real=real, seen=prepared: seen.append(p) or real(p)
        torch.manual_seed(3)
        losses = [trainer.step_accumulated(mbs, None, steps[k + 1] if k + 1 < len(steps) else None)["train/loss"]
                  for k, mbs in enumerate(steps)]
        results.append((losses, [p.detach().clone() for p in trainer.params], prepared))
    (l0, p0, prep0), (l1, p1, prep1) = results
    assert l0 == l1 and len(set(l1)) == 3
    assert all(torch.equal(a, b) for a, b in zip(p0, p1, strict=True))
    # every micro-batch is packed once, in order; with prefetch all but the very first are packed ahead (the loss
    # then gets the prepared batch and passes it through)
    order = [mb for mbs in steps for mb in mbs]
    for prep, ahead in ((prep0, 0), (prep1, len(order) - 1)):
        assert [p for p in prep if not isinstance(p, PackedBatch)] == order
        assert sum(isinstance(p, PackedBatch) for p in prep) == ahead
    assert trainer._ready == []

