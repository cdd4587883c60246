"""One-hot rows, real word dropout, masked padding, save/load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from score_text.vocab import BOS, PAD, UNK, build_vocabulary


def _vocab() -> dict[str, object]:
    return build_vocabulary([[f"w{i}" for i in range(20)]]).to_json()


def test_one_hot_rows_are_their_own_ids() -> None:
    from keras import ops

    from score_text.layers import OneHot

    ids = np.array([[4, 7, 9, 0], [5, 5, 23, 1]], dtype="int32")
    rows = ops.convert_to_numpy(OneHot(24)(ids))
    assert rows.shape == (2, 4, 24)
    np.testing.assert_array_equal(rows, np.eye(24, dtype=rows.dtype)[ids])


def test_word_dropout_replaces_words_by_unk_at_rate_p() -> None:
    from keras import ops

    from score_text.layers import WordDropout

    rng = np.random.default_rng(0)
    tokens = rng.integers(4, 50, size=(200, 30)).astype("int32")
    tokens[:, 0] = BOS
    tokens[:, 20:] = PAD
    layer = WordDropout(0.3, seed=1)
    out = ops.convert_to_numpy(layer(tokens, training=True))
    words = (tokens != PAD) & (tokens != BOS)
    changed = out != tokens
    assert np.all(out[changed] == UNK)
    assert not changed[~words].any()
    assert abs(changed[words].mean() - 0.3) < 0.02
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(tokens, training=False)), tokens)


def test_lm_dropout_drops_the_rnn_outputs_before_the_softmax() -> None:
    from keras import ops

    from score_text.models import LanguageModel

    lm = LanguageModel(_vocab(), embedding_dim=8, units=16, dropout=0.5)
    tokens = np.random.default_rng(0).integers(4, 20, size=(64, 12)).astype("int32")
    logits = ops.convert_to_numpy(lm(tokens, training=True))
    kernel, bias = (ops.convert_to_numpy(w) for w in (lm.head.kernel, lm.head.bias))
    hidden = np.linalg.lstsq(kernel.T, (logits - bias).reshape(-1, kernel.shape[1]).T, rcond=None)[0]
    assert abs(np.mean(np.abs(hidden) < 1e-5) - 0.5) < 0.05
    np.testing.assert_array_equal(ops.convert_to_numpy(lm(tokens, training=False)),
                                  ops.convert_to_numpy(lm(tokens, training=False)))


def test_padding_is_masked_in_both_losses() -> None:
    from keras import ops

    from score_text.data import lm_arrays
    from score_text.models import LanguageModel, SentenceVAE

    rows = [[5, 6, 7], [8, 9, 10, 11, 12]]
    inputs, targets = lm_arrays(rows)
    wide_in, wide_tg = lm_arrays(rows, length=15)
    lm = LanguageModel(_vocab(), embedding_dim=8, units=8)
    losses = [float(ops.convert_to_numpy(lm.compute_loss(y=t, y_pred=lm(i)))) for i, t in
              [(inputs, targets), (wide_in, wide_tg)]]
    assert abs(losses[0] - losses[1]) < 1e-5
    vae = SentenceVAE(_vocab(), embedding_dim=8, encoder_units=8, decoder_units=8, latent_dim=4, anneal="none")
    vae_losses = [float(ops.convert_to_numpy(vae.compute_loss(y=t, y_pred=vae((t, i))))) for i, t in
                  [(inputs, targets), (wide_in, wide_tg)]]
    assert abs(vae_losses[0] - vae_losses[1]) < 1e-4


def test_kl_weight_is_annealed_per_step() -> None:
    from keras import ops

    from score_text.models import SentenceVAE, keras

    vae = SentenceVAE(_vocab(), embedding_dim=8, encoder_units=8, decoder_units=8, latent_dim=4, anneal="linear",
                      anneal_steps=10)
    vae.build_on_dummy()
    vae.compile(optimizer=keras.optimizers.Adam())
    vae.optimizer.build(vae.trainable_variables)
    weights = []
    for step in (0, 3, 5, 20):
        vae.optimizer.iterations.assign(step)
        weights.append(float(ops.convert_to_numpy(vae.kl_weight())))
    np.testing.assert_allclose(weights, [0.0, 0.3, 0.5, 1.0], atol=1e-6)


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    from keras import ops

    from score_text.models import LanguageModel, SentenceVAE
    from score_text.storage import load_model, save_model

    tokens = np.array([[BOS, 5, 6, 7], [BOS, 8, 9, PAD]], dtype="int32")
    for model in (LanguageModel(_vocab(), embedding_dim=8, units=8, layers=2, cell="gru"),
                  LanguageModel(_vocab(), units=8, one_hot=True),
                  SentenceVAE(_vocab(), embedding_dim=8, encoder_units=8, decoder_units=8, latent_dim=4,
                              feed_z=True)):
        model.build_on_dummy()
        path = tmp_path / f"{model.kind}.keras"
        save_model(model, path)
        loaded = load_model(path)
        assert type(loaded) is type(model) and loaded.vocabulary == model.vocabulary
        before, after = (m(tokens) if m.kind == "lm" else m((tokens, tokens))[0] for m in (model, loaded))
        np.testing.assert_array_equal(ops.convert_to_numpy(before), ops.convert_to_numpy(after))
