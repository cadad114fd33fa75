import keras
import numpy as np
import pytest

from humanmatting_gui import backends
from humanmatting_gui import model as likeunet
from humanmatting_gui.errors import ModelFileError

from conftest import TINY


def _randomise_norms(net, seed=0):
    """Give every batch norm non-trivial statistics, so that folding has work to do."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        norms = layer.norms if isinstance(layer, likeunet.RepConv) else (
            [layer] if layer.__class__.__name__ == "BatchNormalization" else [])
        for norm in norms:
            gamma, beta, mean, var = norm.get_weights()
            norm.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                              rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(64, 64), (96, 160), (224, 128)])
def test_output_shape_and_range(channels, size):
    net = likeunet.build_likeunet(likeunet.LikeUnetConfig(channels=channels, **TINY))
    x = np.random.default_rng(1).uniform(0, 255, (2, *size, channels)).astype(np.float32)
    y = np.asarray(net(x, training=False))
    assert y.shape == (2, *size, 1)
    assert y.dtype == np.float32
    assert 0.0 <= y.min() and y.max() <= 1.0


def test_two_class_output_is_a_softmax():
    net = likeunet.build_likeunet(likeunet.LikeUnetConfig(classes=2, **TINY))
    y = np.asarray(net(np.zeros((1, 64, 96, 3), np.float32)))
    assert y.shape == (1, 64, 96, 2)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("branches", [True, False])
def test_folding_keeps_the_output(branches):
    net = likeunet.build_likeunet(likeunet.LikeUnetConfig(branches=branches, **TINY))
    _randomise_norms(net)
    deploy = likeunet.fold(net)
    x = np.random.default_rng(2).uniform(0, 255, (2, 96, 64, 3)).astype(np.float32)
    expected = np.asarray(net(x, training=False))
    assert likeunet.is_deploy(deploy) and not likeunet.is_deploy(net)
    assert likeunet.count_params(deploy) < likeunet.count_params(net)
    np.testing.assert_allclose(np.asarray(deploy(x)), expected, atol=2e-5)
    assert not any("bn" in w.path for w in deploy.weights)


def test_config_round_trip():
    config = likeunet.LikeUnetConfig(channels=1, branches=False, **TINY)
    assert likeunet.config_of(likeunet.build_likeunet(config)) == config


def test_a_keras_file_without_the_architecture_is_refused(tmp_path):
    inputs = keras.Input((None, None, 3))
    keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs)).save(str(tmp_path / "other.keras"))
    with pytest.raises(ModelFileError, match="likeunet.json"):
        likeunet.load_keras(str(tmp_path / "other.keras"))


@pytest.mark.parametrize("bad", [dict(channels=2), dict(classes=3), dict(blocks=(1, 1))])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        likeunet.LikeUnetConfig(**bad)


def test_keras_and_tflite_round_trip(tmp_path):
    net = likeunet.build_likeunet(likeunet.LikeUnetConfig(**TINY))
    _randomise_norms(net, seed=3)
    deploy = likeunet.fold(net)
    x = np.random.default_rng(4).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    expected = np.asarray(net(x, training=False))[0, :, :, 0]
    likeunet.save_keras(net, str(tmp_path / "train.keras"))
    likeunet.export_tflite(deploy, str(tmp_path / "deploy.tflite"))
    reloaded = likeunet.load_keras(str(tmp_path / "train.keras"))
    assert likeunet.config_of(reloaded) == likeunet.LikeUnetConfig(**TINY)  # kept in the file
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False))[0, :, :, 0], expected, atol=1e-5)
    keras_backend = backends.KerasBackend(str(tmp_path / "train.keras"))
    np.testing.assert_allclose(keras_backend.predict(x[0]), expected, atol=1e-5)
    tflite = backends.TFLiteBackend(str(tmp_path / "deploy.tflite"))
    assert tflite.channels == 3
    np.testing.assert_allclose(tflite.predict(x[0]), expected, atol=1e-4)
    # another size through the same file: the interpreter is resized, not re-exported
    x2 = np.random.default_rng(5).uniform(0, 255, (1, 128, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(tflite.predict(x2[0]), np.asarray(net(x2, training=False))[0, :, :, 0],
                               atol=1e-4)


def test_fixed_size_signatures_and_int8_match_the_float_model(tmp_path):
    keras.utils.set_random_seed(6)  # the weights drawn, whichever tests ran before
    net = likeunet.fold(likeunet.build_likeunet(likeunet.LikeUnetConfig(**TINY)))
    _randomise_norms(net, seed=6)
    rng = np.random.default_rng(7)
    shapes = [(64, 96), (96, 64)]
    likeunet.export_tflite(net, str(tmp_path / "f32.tflite"), shapes)
    samples = [rng.uniform(0, 255, (*shape, 3)).astype(np.float32) for shape in [*shapes, (64, 64)] * 8]
    likeunet.export_tflite(net, str(tmp_path / "int8.tflite"), shapes, calibration=samples)
    f32 = backends.TFLiteBackend(str(tmp_path / "f32.tflite"))
    int8 = backends.TFLiteBackend(str(tmp_path / "int8.tflite"))
    assert f32.fixed_sizes == int8.fixed_sizes == [(64, 96), (96, 64)]
    warm = backends.TFLiteBackend(str(tmp_path / "f32.tflite"))
    warm.warm_up()  # each fixed size run once, before any frame
    assert sorted(warm._runs) == shapes
    assert any(t["dtype"] == np.int8 for t in int8._interpreter.get_tensor_details())
    assert not any(t["dtype"] == np.int8 for t in f32._interpreter.get_tensor_details())
    for shape in (64, 96), (96, 64), (128, 64):  # two fixed graphs and the open-sided one
        x = rng.uniform(0, 255, (*shape, 3)).astype(np.float32)
        expected = np.asarray(net(x[None], training=False))[0, :, :, 0]
        np.testing.assert_allclose(f32.predict(x), expected, atol=1e-4)
        quantised = int8.predict(x)
        assert quantised.shape == expected.shape and quantised.dtype == np.float32
        error = np.abs(quantised - expected)
        assert error.mean() < 0.02 and error.mean() < 0.2 * expected.std()
    with pytest.raises(ValueError, match="calibration"):
        likeunet.export_tflite(net, str(tmp_path / "none.tflite"), shapes, calibration=[])
    assert not (tmp_path / "none.tflite").exists()


@pytest.mark.parametrize("suffix", [".keras", ".tflite"])
def test_corrupt_model_files_name_the_file(tmp_path, model_dir, suffix):
    good = (model_dir / f"likeunet-rgb{suffix}").read_bytes()
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(good[: len(good) // 2])
    garbage = tmp_path / f"garbage{suffix}"
    garbage.write_bytes(b"this is not a model at all" * 10)
    for path in (truncated, garbage, tmp_path / f"missing{suffix}"):
        with pytest.raises(ModelFileError, match=path.name):
            backends.load_backend(str(path)).predict(np.zeros((64, 64, 3), np.float32))


def test_named_models_resolve_or_explain(models_env, monkeypatch, tmp_path):
    assert backends.resolve_model("rgb").endswith("likeunet-rgb.tflite")
    assert backends.resolve_model("gray").endswith("likeunet-gray.tflite")
    monkeypatch.setenv("HUMANMATTING_MODELS", str(tmp_path))
    with pytest.raises(ModelFileError, match="trainer"):
        backends.resolve_model("rgb")


def test_macs_scale_with_pixels_and_survive_folding():
    net = likeunet.build_likeunet(likeunet.LikeUnetConfig(branches=False, **TINY))
    small = likeunet.count_macs(net, 64, 64)
    assert small > 0
    assert likeunet.count_macs(net, 128, 128) == 4 * small
    assert likeunet.count_macs(likeunet.fold(net), 64, 64) == small
