import csv
import os

import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

from humanmatting_gui import backends
from humanmatting_gui import model as likeunet
from humanmatting_gui.segmenter import SegmenterSettings
from trainer import data, evaluate, losses, pipeline, train, transfer
from trainer import export as trainer_export

from conftest import TINY, person_image, write_pairs

TINY_ARGS = ["--widths", *map(str, TINY["widths"]), "--blocks", *map(str, TINY["blocks"]),
             "--decoder-widths", *map(str, TINY["decoder_widths"])]


@pytest.fixture
def dataset(tmp_path):
    """Both layouts: images/+masks/ (11 pairs and one corrupt) and AISegment (3 pairs)."""
    flat = write_pairs(tmp_path / "flat", 11, 96, 80)
    (flat / "images" / "99.jpg").write_bytes(b"broken")
    cv2.imwrite(str(flat / "masks" / "99.png"), np.zeros((8, 8), np.uint8))
    seg = tmp_path / "aisegment"
    for k in range(3):
        clip_dir = seg / "clip_img" / "1803151818" / "clip_00000000"
        matte_dir = seg / "matting" / "1803151818" / "matting_00000000"
        clip_dir.mkdir(parents=True, exist_ok=True)
        matte_dir.mkdir(parents=True, exist_ok=True)
        image, mask = person_image(64, 48, seed=20 + k)
        cv2.imwrite(str(clip_dir / f"1803151818-{k:08d}.jpg"), image)
        cv2.imwrite(str(matte_dir / f"1803151818-{k:08d}.png"), np.dstack([image, mask]))
    backgrounds = tmp_path / "bg"
    backgrounds.mkdir()
    cv2.imwrite(str(backgrounds / "scene.jpg"), np.full((60, 90, 3), 90, np.uint8))
    return flat, seg, backgrounds


def test_find_pairs_in_both_layouts(dataset):
    flat, seg, _ = dataset
    flat_pairs, seg_pairs = data.find_pairs(str(flat)), data.find_pairs(str(seg))
    assert len(flat_pairs) == 12 and len(seg_pairs) == 3
    assert seg_pairs[0].mask.endswith(os.path.join("matting_00000000", "1803151818-00000000.png"))
    image, mask = data.load_pair(seg_pairs[0])
    assert image.shape == (64, 48, 3) and mask.shape == (64, 48) and mask.max() == 255


def test_corrupt_pairs_are_counted_and_skipped(dataset):
    flat, _, _ = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    assert loaded.failed == 1 and len(loaded.images) == 11


def test_validation_split_is_fixed_and_disjoint(dataset):
    flat, seg, _ = dataset
    pairs = data.find_pairs(str(flat)) + data.find_pairs(str(seg))
    train_pairs, val_pairs = data.split(pairs)
    assert [p.image for p in val_pairs] == [p.image for p in data.split(list(pairs))[1]]
    assert not {p.image for p in train_pairs} & {p.image for p in val_pairs}
    assert len(val_pairs) == 2 + 1  # the 1st and 11th of flat/, the 1st of aisegment/


def test_listed_pairs_are_left_out_of_training_only(dataset):
    flat, seg, _ = dataset
    (flat / "PASSERSBY.txt").write_text("03\n07\n\n")
    pairs = data.find_pairs(str(flat)) + data.find_pairs(str(seg))
    train_pairs, val_pairs = data.split(pairs)
    kept, dropped = data.leave_out(train_pairs, "PASSERSBY.txt")
    names = {os.path.basename(p.image) for p in kept}
    assert dropped == 2 and "03.jpg" not in names and "07.jpg" not in names
    assert len(kept) == len(train_pairs) - 2  # the AISegment folder has no list: all kept
    assert data.leave_out(val_pairs, "MISSING.txt") == (val_pairs, 0)


@pytest.mark.parametrize("grey", [False, True])
def test_training_batches(dataset, grey):
    flat, _, backgrounds = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    scenes = data.load_backgrounds([str(backgrounds)])
    batches = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 4, size=64, grey=grey)
    shapes = set()
    for x, y in batches.take(12):
        assert x.shape[0] == 4 and x.shape[-1] == (1 if grey else 3)
        assert y.shape[:3] == x.shape[:3] and y.shape[-1] == 1
        assert 0 <= float(np.min(x)) and float(np.max(x)) <= 255
        labelled = y.numpy()[y.numpy() != losses.IGNORE]
        assert 0 <= labelled.min() and labelled.max() <= 1
        shapes.add(tuple(x.shape[1:3]))
    assert shapes <= set(pipeline.train_shapes(64)) and len(shapes) > 1


def test_consistency_batches_are_view_pairs(dataset):
    """Images 2k and 2k+1 are one sample seen twice: equal targets, the weight beside them,
    pixels that differ only by the camera's draws (not by geometry)."""
    flat, _, backgrounds = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    scenes = data.load_backgrounds([str(backgrounds)])
    batches = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 4, size=64,
                                        consistency=2.0)
    correlations = []
    for x, y in batches.take(6):
        x, y = x.numpy(), y.numpy()
        assert x.shape[0] == 4 and y.shape == (*x.shape[:3], 2)
        assert np.all(y[..., 1] == 2.0)
        assert np.array_equal(y[0::2, ..., 0], y[1::2, ..., 0])
        assert not np.array_equal(x[0::2], x[1::2])
        correlations += [np.corrcoef(first.mean(-1).ravel(), second.mean(-1).ravel())[0, 1]
                         for first, second in zip(x[0::2], x[1::2])]
    # the same scene: strongly correlated (a rare pair of strong camera draws on a flat
    # scene, about 1 in 150, falls lower; different geometry would lower them all)
    assert np.median(correlations) > 0.85 and np.mean(np.array(correlations) > 0.7) >= 0.75
    with pytest.raises(ValueError, match="even batch"):
        pipeline.training_dataset(loaded.images, loaded.masks, scenes, 3, size=64, consistency=1.0)


def test_the_model_trains_on_consistency_pairs(dataset):
    flat, _, backgrounds = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    net = train.build(train.parse_args(["--data", "x", "--out", "y", "--consistency", "2", *TINY_ARGS]))
    batches = pipeline.training_dataset(loaded.images, loaded.masks, [], 4, size=64, consistency=2.0)
    logs = net.fit(batches, steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(logs["loss"][0]) and 0.0 <= logs["person_iou"][0] <= 1.0


def test_consistency_loss_on_known_pairs():
    truth = np.zeros((4, 8, 8, 1), np.float32)
    truth[:, :4] = 1.0
    truth[:, :, 6:] = losses.IGNORE
    pred = np.clip(truth, 0.1, 0.9)
    other = pred.copy()
    other[1, 4:6, :6] = 0.5  # the second view of pair 0 differs by 0.4 on 12 counted pixels
    other[3, :, 6:] = 0.0  # pair 1 differs only where nothing is counted
    plain = losses.matting_loss(truth, other).numpy()
    paired = losses.matting_loss(np.concatenate([truth, np.full_like(truth, 2.0)], -1), other).numpy()
    difference = 2.0 * 12 * 0.4 ** 2 / 48
    assert paired == pytest.approx(plain + [difference, difference, 0.0, 0.0], abs=1e-5)
    metric, paired_metric = losses.PersonIoU(), losses.PersonIoU()
    metric.update_state(truth, other)
    paired_metric.update_state(np.concatenate([truth, np.full_like(truth, 2.0)], -1), other)
    assert float(paired_metric.result()) == pytest.approx(float(metric.result()))


def _colour_teacher():
    """A model whose person probability is sigmoid((red - green) / 20): blind in grey."""
    inputs = keras.Input((None, None, 3))
    net = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(inputs))
    net.set_weights([np.array([0.05, -0.05, 0.0], np.float32).reshape(1, 1, 3, 1), np.zeros(1, np.float32)])
    return net


def test_distillation_blends_what_the_teacher_sees_in_colour_into_the_targets():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    masks = rng.choice([0.0, 1.0, losses.IGNORE], (2, 32, 32, 1)).astype(np.float32)
    x, y = pipeline.distil(images, masks, _colour_teacher(), 0.3, grey=True)
    np.testing.assert_allclose(x, images @ np.float32([[0.2989], [0.5870], [0.1140]]), atol=0.05)
    seen = 1 / (1 + np.exp(-0.05 * (images[..., :1] - images[..., 1:2])))
    expected = np.where(masks == losses.IGNORE, losses.IGNORE, 0.7 * masks + 0.3 * seen)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    # a target stays on its mask's side of 0.5, so the metrics still count against the masks
    labelled = masks != losses.IGNORE
    assert np.array_equal(y.numpy()[labelled] > 0.5, masks[labelled] > 0.5)
    # a weight per image: 0 keeps that image's own targets
    _, y = pipeline.distil(images, masks, _colour_teacher(), np.float32([0.3, 0.0]))
    np.testing.assert_allclose(y[0], expected[0], atol=1e-5)
    np.testing.assert_array_equal(y[1], masks[1])


def test_a_grey_student_trains_on_distilled_batches(dataset):
    flat, _, backgrounds = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    scenes = data.load_backgrounds([str(backgrounds)])
    batches = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 4, size=64, grey=True,
                                        teacher=_colour_teacher(), teacher_weight=0.3)
    for x, y in batches.take(4):
        labelled = y.numpy()[y.numpy() != losses.IGNORE]
        assert x.shape[-1] == 1 and labelled.size
        # masks are 0 or 1 on these photos: blended, no target is left at exactly 0 or 1
        assert 0 < labelled.min() and labelled.max() < 1
    # pairs given no teacher share keep their own targets
    batches = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 4, size=64, grey=True,
                                        teacher=_colour_teacher(), teacher_weight=[0.0] * len(loaded.images))
    for x, y in batches.take(2):
        labelled = y.numpy()[y.numpy() != losses.IGNORE]
        assert labelled.min() == 0 and labelled.max() == 1


@pytest.mark.parametrize("composite", [0.0, 1.0])
def test_own_scene_padding_is_ignored_and_composites_are_labelled_everywhere(dataset, composite):
    """A photo scaled below the frame and kept in its own scene is padded by repeating its
    edges, labelled IGNORE there (a rectangle of labels remains); a composite is all labelled."""
    flat, _, backgrounds = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    scenes = data.load_backgrounds([str(backgrounds)])
    batches = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 8, size=64,
                                        augmentation=pipeline.Augmentation(composite=composite))
    padded = 0
    for _, y in batches.take(6):
        for label in y.numpy()[:, :, :, 0]:
            valid = label != losses.IGNORE
            if composite:
                assert valid.all()
            elif not valid.all():
                padded += 1
                rows, cols = np.flatnonzero(valid.any(1)), np.flatnonzero(valid.any(0))
                box = np.zeros_like(valid)
                box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
                assert np.array_equal(valid, box)
    assert padded > 0 or composite


def test_motion_blur_smears_pixels_and_mask_alike_along_a_line():
    kernel = pipeline.motion_kernel(5.0, 0.0).numpy()  # horizontal, 5 pixels long
    assert kernel.sum() == pytest.approx(1.0)
    rows, cols = np.nonzero(kernel > 1e-6)
    assert set(rows) == {7} and set(cols) == set(range(5, 10))
    upright = pipeline.motion_kernel(9.0, np.pi / 2).numpy()
    np.testing.assert_allclose(upright, kernel.T * 0 + upright[:, 7:8] * (np.arange(15) == 7), atol=1e-6)
    stack = np.zeros((31, 31, 2), np.float32)
    stack[15, 15] = 1.0  # one bright pixel, one mask pixel
    smeared = pipeline._motion_blur(stack).numpy()
    np.testing.assert_allclose(smeared[..., 0], smeared[..., 1])
    assert smeared.sum(axis=(0, 1)) == pytest.approx([1.0, 1.0])
    assert (smeared[..., 0] > 1e-6).sum() >= 3


def test_a_bar_covers_its_width_and_length():
    cover = pipeline.bar((40, 30), (20.0, 15.0), 0.0, 2.0, 10.0).numpy()[..., 0]
    # 4 wide and 20 long, the pixels on its edges half covered
    assert cover[20, 12:19].tolist() == [0, 0.5, 1, 1, 1, 0.5, 0]
    assert cover[:, 15].sum() == pytest.approx(20) and cover[11:30, 15].min() == 1


def test_occluders_are_labelled_not_person():
    """A person that fills the photo: with occluders, bars of other pixels cut the mask."""
    image = tf.constant(np.full((64, 64, 3), 200, np.uint8))
    mask = tf.constant(np.full((64, 64, 1), 255, np.uint8))
    cut = {}
    for probability in (0.0, 1.0):
        tf.random.set_seed(3)
        own_scene = pipeline.Augmentation(composite=0.0, occluders=probability)
        targets = [pipeline.augment(image, mask, (64, 64), augmentation=own_scene)[1].numpy()
                   for _ in range(8)]
        cut[probability] = sum(float(y[y != losses.IGNORE].min()) < 0.5 for y in targets)
    # a bar may fall on the ignored padding only, where a smaller photo does not fill the frame
    assert cut[0.0] == 0 and cut[1.0] >= 5
    # and the training batches get them when asked (the trainer's --occluders)
    for probability in (0.0, 1.0):
        batches = pipeline.training_dataset([image.numpy()] * 4, [mask.numpy()[..., 0]] * 4, [], 4,
                                            size=64,
                                            augmentation=pipeline.Augmentation(occluders=probability))
        targets = np.concatenate([y.numpy().ravel() for _, y in batches.take(3)])
        assert (targets[targets != losses.IGNORE] < 0.5).any() == bool(probability)


def test_a_pairs_motion_share_turns_the_motion_augmentation_off():
    """Occluders on every sample, but the dark pairs (motion share 0, the trainer's --plain)
    never get one: their person, who fills the photo, is never cut."""
    bright, dark = np.full((64, 64, 3), 230, np.uint8), np.full((64, 64, 3), 30, np.uint8)
    mask = np.full((64, 64), 255, np.uint8)
    batches = pipeline.training_dataset([bright, bright, dark, dark], [mask] * 4, [], 4, size=64,
                                        augmentation=pipeline.Augmentation(composite=0.0, occluders=1.0),
                                        motion=[1.0, 1.0, 0.0, 0.0])
    cut = {True: 0, False: 0}
    for x, y in batches.take(4):
        for pixels, target in zip(x.numpy(), y.numpy()):
            counted = target[target != losses.IGNORE]
            cut[float(pixels.mean()) > 130] += int(float(counted.min()) < 0.5)
    assert cut[False] == 0 and cut[True] >= 4


def test_plain_names_the_folders_without_motion_augmentation():
    args = train.parse_args(["--data", "a", "b/", "--out", "o", "--rotate", "0.2", "--plain", "b"])
    assert train.motion_shares(args, ["a", "b/", "a/"]) == [1.0, 0.0, 1.0]
    with pytest.raises(SystemExit):
        train.parse_args(["--data", "a", "--out", "o", "--plain", "c"])


def test_negative_samples_are_scenes_with_empty_masks(dataset):
    flat, _, backgrounds = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    scenes = data.load_backgrounds([str(backgrounds)])
    plain = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 4, size=64)
    assert all(float(np.max(y)) > 0.5 for _, y in plain.take(4))  # every sample has its person
    only = pipeline.training_dataset(loaded.images, loaded.masks, scenes, 4, size=64,
                                     augmentation=pipeline.Augmentation(negatives=1.0))
    for x, y in only.take(4):
        assert float(np.max(y)) == 0.0 and float(np.std(x)) > 0


def test_a_few_steps_reduce_the_loss(dataset):
    flat, _, _ = dataset
    loaded = data.load_pairs(data.find_pairs(str(flat)))
    x, y = pipeline.validation_dataset(loaded.images[:8], loaded.masks[:8], 8, size=64).get_single_element()
    net = train.build(train.parse_args(["--data", "x", "--out", "y", "--lr", "1e-2", *TINY_ARGS]))
    first = float(net.train_on_batch(x, y)[0])
    for _ in range(15):
        last = float(net.train_on_batch(x, y)[0])
    assert last < first


def test_loss_and_metrics_on_known_masks():
    truth = np.zeros((1, 8, 8, 1), np.float32)
    truth[0, :4] = 1.0
    pred = np.zeros_like(truth)
    pred[0, 2:6] = 1.0
    metric = losses.PersonIoU()
    metric.update_state(truth, pred)
    assert float(metric.result()) == pytest.approx(1 / 3)
    miou = losses.PersonIoU(mean=True)
    miou.update_state(truth, pred)
    assert float(miou.result()) == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert float(np.mean(losses.matting_loss(truth, truth))) < float(np.mean(losses.matting_loss(truth, pred)))


def test_ignored_pixels_count_nowhere():
    """The validation letterbox labels its padding IGNORE: whatever the model predicts there
    changes neither the metrics nor the loss."""
    truth = np.zeros((1, 8, 8, 1), np.float32)
    truth[0, :4, :6] = 1.0
    truth[0, :, 6:] = losses.IGNORE
    pred = np.zeros_like(truth)
    pred[0, 2:6, :6] = 1.0
    wild = pred.copy()
    wild[0, :, 6:] = 1.0  # person predicted all over the padding
    for mean, expected in ((False, 12 / 36), (True, (12 / 36 + 12 / 36) / 2)):
        for guess in (pred, wild):
            metric = losses.PersonIoU(mean=mean)
            metric.update_state(truth, guess)
            assert float(metric.result()) == pytest.approx(expected)
    assert float(losses.matting_loss(truth, pred)[0]) == pytest.approx(
        float(losses.matting_loss(truth, wild)[0]), abs=1e-5)
    image = np.full((40, 20, 3), 90, np.uint8)
    mask = np.full((40, 20), 255, np.uint8)
    pixels, label = pipeline.letterbox(image, mask, 32)
    assert pixels.shape == (32, 32, 3) and np.all(pixels == 90)  # edges repeated, no black bars
    assert np.all(label[:, :16] == 1.0) and np.all(label[:, 16:] == losses.IGNORE)


def test_bad_input_is_one_readable_line(dataset, tmp_path, capsys):
    flat, _, _ = dataset
    common = ["--out", str(tmp_path / "run"), "--size", "64", "--batch", "4", *TINY_ARGS]
    assert train.main(["--data", str(tmp_path / "nowhere"), *common]) == 1
    assert train.main(["--data", str(flat), "--teacher", str(tmp_path / "no.keras"), *common]) == 1
    assert train.main(["--data", str(flat), "--init-from", str(tmp_path / "no.keras"), *common]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "nowhere" in lines[0] and "no.keras" in lines[1] and "no.keras" in lines[2]
    assert not (tmp_path / "run").exists()  # no empty run folder left behind
    with pytest.raises(SystemExit):
        train.parse_args(["--data", str(flat), "--out", "x", "--occluders", "1.5"])


def test_train_resume_and_export(dataset, tmp_path):
    flat, seg, backgrounds = dataset
    out = tmp_path / "run"
    common = ["--data", str(flat), str(seg), "--backgrounds", str(backgrounds), "--out", str(out),
              "--size", "64", "--batch", "4", "--steps-per-epoch", "2", "--verbose", "0", *TINY_ARGS]
    assert train.main([*common, "--epochs", "1"]) == 0
    assert train.main([*common, "--epochs", "2"]) == 2  # a run is there: resume or elsewhere
    assert train.main([*common, "--epochs", "3", "--resume"]) == 0
    with open(out / "log.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1, 2]
    tflite, keras_file = out / "likeunet-rgb.tflite", out / "likeunet-rgb.keras"
    assert tflite.is_file() and keras_file.is_file() and (out / "final.keras").is_file()
    image, _ = person_image(64, 96)
    pixels = image[:, :, ::-1].astype(np.float32)
    a = backends.TFLiteBackend(str(tflite)).predict(pixels)
    b = backends.KerasBackend(str(keras_file)).predict(pixels)
    np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("ema", [None, "0.9999"])
def test_ema_keeps_the_average_of_the_weights(dataset, tmp_path, ema):
    """With a slow average (0.9999) the shipped weights stay near those after the first step
    (the average starts there; Adam moves each weight by at most about the learning rate per
    step), however far the 10 steps take the raw weights. Resume works with the average too."""
    flat, _, _ = dataset
    start = tmp_path / "start.keras"
    likeunet.save_keras(train.build(train.parse_args(["--data", "x", "--out", "y", *TINY_ARGS])), str(start))
    out = tmp_path / "run"
    common = ["--data", str(flat), "--out", str(out), "--size", "64", "--batch", "4",
              "--steps-per-epoch", "5", "--verbose", "0", "--lr", "1e-2", "--init-from", str(start),
              *TINY_ARGS, *(["--ema", ema] if ema else [])]
    assert train.main([*common, "--epochs", "1"]) == 0
    kernel = lambda path: likeunet.load_keras(str(path)).get_layer("enc2_0_pw").get_weights()[0]
    np.testing.assert_array_equal(kernel(out / "start.keras"), kernel(start))  # the run's start, kept
    assert train.main([*common, "--epochs", "2", "--resume"]) == 0
    moved = np.abs(kernel(out / "final.keras") - kernel(start)).max()
    assert (moved < 1.1e-2) if ema else (moved > 2e-2)


class FixedModel:
    """Segments every image as its top half: IoU against a known mask is known."""

    def segment(self, image):
        out = np.zeros(image.shape[:2], np.float32)
        out[: image.shape[0] // 2] = 1.0
        return out


def test_evaluate_reports_known_iou(tmp_path, capsys):
    folder = tmp_path / "set"
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / "images" / f"{k}.png"), np.zeros((40, 20, 3), np.uint8))
        mask = np.zeros((40, 20), np.uint8)
        mask[10:30] = 255  # overlap with the top half: rows 10-19 of 10-29 -> IoU 10/30
        cv2.imwrite(str(folder / "masks" / f"{k}.png"), mask)
    results = evaluate.evaluate({"fixed": FixedModel()}, [str(folder)], split="all")
    assert results["fixed"]["overall"].iou == pytest.approx(1 / 3)
    # background: predicted rows 20-39, true rows 0-9 and 30-39: 10 shared of 30 -> 1/3 too
    assert results["fixed"]["overall"].miou == pytest.approx(1 / 3)
    assert "0.3333" in evaluate.report(results)


def test_evaluate_command_line(models_env, dataset, capsys):
    flat, _, _ = dataset
    assert evaluate.main([str(flat), "--model", str(models_env / "likeunet-rgb.tflite"), "--split", "all"]) == 0
    out = capsys.readouterr()
    assert "overall" in out.out and "flat" in out.out and "99.jpg" in out.err


def test_evaluate_keeps_two_models_of_the_same_name_apart(models_env, dataset, tmp_path, capsys):
    """A new model is compared with the shipped one of the same file name: both are reported."""
    flat, _, _ = dataset
    other = tmp_path / "new" / "likeunet-rgb.tflite"
    other.parent.mkdir()
    other.write_bytes((models_env / "likeunet-rgb.tflite").read_bytes())
    shipped = str(models_env / "likeunet-rgb.tflite")
    assert evaluate.main([str(flat), "--model", shipped, "--model", str(other), "--split", "all"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if "overall" in line]
    assert [row[0] for row in rows] == [shipped, str(other)]
    assert rows[0][2:] == rows[1][2:]  # the same file twice: the same figures


def test_evaluate_flip_rows_average_the_mirror_image(models_env, dataset, capsys):
    """--flip adds a row per model and for the reference wrapper: the mean of the masks of an
    image and of its mirror image, mirrored back (FixedModel's top half is its own mirror
    image; a left-half model's is the right half: 0.5 everywhere)."""
    image = np.zeros((40, 20, 3), np.uint8)
    np.testing.assert_array_equal(evaluate.Flipped(FixedModel()).segment(image),
                                  FixedModel().segment(image))

    class LeftHalf:
        def segment(self, image):
            out = np.zeros(image.shape[:2], np.float32)
            out[:, : image.shape[1] // 2] = 1.0
            return out
    np.testing.assert_array_equal(evaluate.Flipped(LeftHalf()).segment(image), 0.5)
    flat, _, _ = dataset
    shipped = str(models_env / "likeunet-rgb.tflite")
    assert evaluate.main([str(flat), "--model", shipped, "--split", "all", "--flip"]) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines() if "overall" in line]
    assert rows == [["likeunet-rgb.tflite", "overall"], ["likeunet-rgb.tflite", "+flip"]]


def test_a_grey_model_starts_from_an_rgb_one():
    rgb = train.build(train.parse_args(["--data", "x", "--out", "y", *TINY_ARGS]))
    grey = train.build(train.parse_args(["--data", "x", "--out", "y", "--mode", "gray", *TINY_ARGS]))
    transfer.transfer_weights(rgb, grey)
    g = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(grey(g, training=False)),
                               np.asarray(rgb(np.repeat(g, 3, axis=3), training=False)), atol=1e-5)


def _randomised(net, seed=0):
    """Random weights everywhere, batch-norm statistics included (a fresh model's are 0 and 1,
    which would hide a wrong mapping)."""
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        for w in layer.weights:
            shape = tuple(w.shape)
            value = rng.uniform(0.5, 1.5, shape) if "variance" in w.path or "gamma" in w.path \
                else rng.normal(0, 0.3, shape)
            w.assign(value.astype(np.float32))
    return net


@pytest.mark.parametrize("branches", [False, True])
def test_a_grown_model_predicts_what_its_source_predicts(branches):
    small = _randomised(likeunet.build_likeunet(likeunet.LikeUnetConfig(branches=branches, **TINY)))
    wider = dict(widths=(8, 12, 16, 24, 32), blocks=(1, 2, 1, 3), decoder_widths=(24, 16, 12, 8))
    big = likeunet.build_likeunet(likeunet.LikeUnetConfig(branches=branches, **wider))
    transfer.transfer_weights(small, big)
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 96, 3)).astype(np.float32)
    want = np.asarray(small(x, training=False))
    np.testing.assert_allclose(np.asarray(big(x, training=False)), want, atol=1e-4)
    # the new weights are not all zero: the new channels have something to learn from
    assert np.abs(big.get_layer("enc4_0_pw").get_weights()[0][..., 16:]).min() > 0
    with pytest.raises(ValueError, match="cannot shrink"):
        transfer.transfer_weights(big, small)


def test_relu_normal_statistics_match_sampling():
    norm = keras.layers.BatchNormalization()
    norm.build((None, 3))
    norm.set_weights([np.array([1.0, 0.5, 2.0]), np.array([0.0, 1.0, -1.0]), np.zeros(3), np.ones(3)])
    mean, var = transfer._relu_normal_stats(norm)
    samples = np.maximum(np.random.default_rng(0).normal([0.0, 1.0, -1.0], [1.0, 0.5, 2.0], (200_000, 3)), 0)
    np.testing.assert_allclose(mean, samples.mean(0), atol=0.01)
    np.testing.assert_allclose(var, samples.var(0), atol=0.02)


def test_best_checkpoint_keeps_the_best_epoch(tmp_path):
    net = train.build(train.parse_args(["--data", "x", "--out", "y", *TINY_ARGS]))
    path = tmp_path / "best.keras"
    keeper = train.BestCheckpoint(str(path), best=0.5)
    keeper.set_model(net)
    keeper.on_epoch_end(0, {"val_miou": 0.4})
    assert not path.exists()
    keeper.on_epoch_end(1, {"val_miou": 0.6})
    assert path.is_file() and keeper.best == pytest.approx(0.6)
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def _teacher_folder(tmp_path, ignore=128):
    """A teacher-label cache: one clip, masks with the left quarter unknown, labels.json."""
    root = tmp_path / "teacher"
    clip = root / "clip"
    (clip / "images").mkdir(parents=True)
    (clip / "masks").mkdir()
    for k in range(3):
        image, mask = person_image(96, 80, seed=40 + k)
        mask[:, :20] = ignore
        cv2.imwrite(str(clip / "images" / f"{k:05d}.jpg"), image)
        cv2.imwrite(str(clip / "masks" / f"{k:05d}.png"), mask)
    (root / "labels.json").write_text('{"ignore": %d}' % ignore)
    return root


def test_a_teacher_label_folder_is_read_with_its_ignore_value(tmp_path):
    root = _teacher_folder(tmp_path)
    pairs = data.find_pairs(str(root))
    assert len(pairs) == 3 and {p.ignore for p in pairs} == {128}
    image, mask = data.load_pair(pairs[0])
    assert mask.shape == (96, 80, 2)
    assert np.all(mask[:, :20, 1] == 0) and np.all(mask[:, 20:, 1] == 255)
    assert np.all(mask[:, :20, 0] == 0)  # nothing of the unknown band is left as a label
    # the trainer's batches and its validation count the unknown band nowhere
    loaded = data.load_pairs(pairs)
    _, y = pipeline.validation_dataset(loaded.images, loaded.masks, 3, size=64).get_single_element()
    assert np.all(y.numpy()[:, :, :13] == losses.IGNORE)  # 20 of 80 columns, at 64/96 scale
    assert np.all(y.numpy()[:, :40, 16:48] != losses.IGNORE)
    own = pipeline.training_dataset(loaded.images, loaded.masks, [], 3, size=64,
                                    augmentation=pipeline.Augmentation(composite=0.0))
    ignored = [float(np.mean(y.numpy() == losses.IGNORE)) for _, y in own.take(4)]
    assert min(ignored) > 0.05
    # a folder without labels.json takes --ignore; a bad labels.json is one clear error
    (root / "labels.json").unlink()
    assert {p.ignore for p in data.find_pairs(str(root))} == {None}
    assert {p.ignore for p in data.find_pairs(str(root), 128)} == {128}
    (root / "labels.json").write_text('{"ignore": 300}')
    with pytest.raises(ValueError, match="labels.json"):
        data.find_pairs(str(root))


def test_the_trainer_takes_ignore_values_and_motion_options():
    args = train.parse_args(["--data", "a", "--out", "o", "--ignore", "a/=128", "--rotate", "0.3",
                             "--small", "0.2", "--textures", "0.5"])
    assert args.ignore == {"a": 128}
    assert train.augmentation(args) == pipeline.Augmentation(rotate=0.3, small=0.2, textures=0.5)
    for bad in (["--ignore", "a"], ["--rotate", "2"], ["--consistency", "1", "--batch", "7"],
                ["--consistency", "-1"], ["--consistency", "1", "--teacher", "t.keras"]):
        with pytest.raises(SystemExit):
            train.parse_args(["--data", "a", "--out", "o", *bad])


def test_no_teacher_keeps_a_folders_own_targets():
    args = train.parse_args(["--data", "a", "b/", "--out", "o", "--teacher", "t.keras",
                             "--teacher-weight", "0.4", "--no-teacher", "b"])
    assert train.teacher_weights(args, ["a", "b/", "a/"]) == [0.4, 0.0, 0.4]
    for bad in (["--teacher", "t.keras", "--no-teacher", "c"], ["--no-teacher", "b"]):
        with pytest.raises(SystemExit):
            train.parse_args(["--data", "a", "b", "--out", "o", *bad])


def test_repeat_samples_a_folders_training_pairs_more_often():
    args = train.parse_args(["--data", "a", "b", "--out", "o", "--repeat", "a/=3"])
    assert args.repeat == {"a": 3}
    for bad in (["--repeat", "a"], ["--repeat", "a=0"]):
        with pytest.raises(SystemExit):
            train.parse_args(["--data", "a", "--out", "o", *bad])
    one, two = np.zeros((4, 4, 3), np.uint8), np.ones((4, 4, 3), np.uint8)
    loaded = data.LoadedSet([one, two], [one[..., 0], two[..., 0]], ["a/", "b"], failed=1)
    repeated = data.repeat(loaded, args.repeat)
    assert repeated.folders == ["a/"] * 3 + ["b"] and repeated.failed == 1
    assert all(image is one for image in repeated.images[:3])  # the same array, not copies
    assert repeated.images[3] is two and repeated.masks[3] is loaded.masks[1]


def test_rotation_turns_photo_and_mask_together_and_marks_what_lies_beyond():
    stack = np.zeros((41, 41, 2), np.float32)
    stack[5:20, 19:22] = 1.0  # a bar above the centre, in pixels and mask
    turned = pipeline.rotate(tf.constant(stack), np.pi / 2).numpy()
    assert turned.shape == (41, 41, 3)
    np.testing.assert_allclose(turned[..., 0], turned[..., 1])
    rows, cols = np.nonzero(turned[..., 0] > 0.5)
    # a quarter turn takes it beside the centre, lying flat
    assert rows.min() >= 19 and rows.max() <= 21 and (cols.max() < 20 or cols.min() > 20)
    assert cols.max() - cols.min() >= 12
    assert np.all(turned[..., 2] > 0.99)  # a square turned a quarter covers itself
    diagonal = pipeline.rotate(tf.constant(stack), np.pi / 4).numpy()[..., 2]
    assert diagonal[0, 0] == 0 and diagonal[20, 20] == 1  # its corners lie beyond the photo


def test_small_people_are_composited_at_a_tenth_to_a_third_of_the_frame():
    image, mask = person_image(128, 64, seed=3)
    mask[:] = 0
    mask[:, 16:48] = 255  # a person as high as the photo
    heights = []
    tf.random.set_seed(0)
    for _ in range(12):
        _, y = pipeline.augment(tf.constant(image[:, :, ::-1].copy()), tf.constant(mask[:, :, None]),
                                (128, 128), augmentation=pipeline.Augmentation(small=1.0))
        y = y.numpy()[:, :, 0]
        assert np.all(y != losses.IGNORE)  # composited: labelled everywhere
        rows = np.flatnonzero((y > 0.5).any(1))
        heights.append((rows[-1] - rows[0] + 1) / 128 if rows.size else 0.0)
    assert 0.08 <= min(heights) and max(heights) <= 0.36


def test_textures_are_colourful():
    tf.random.set_seed(1)
    t = pipeline.colour_texture((64, 96)).numpy()
    assert t.shape == (64, 96, 3) and 0 <= t.min() and t.max() <= 255
    assert t.std(axis=(0, 1)).mean() > 15  # not a flat colour


def test_validation_uses_the_engines_working_shape():
    """A 4:3 photo is validated at 288x224, as the engine runs it, not fitted into 256x256."""
    image = np.zeros((480, 640, 3), np.uint8)
    mask = np.zeros((480, 640), np.uint8)
    pixels, label = pipeline.letterbox(image, mask, 256)
    assert pixels.shape == (224, 288, 3) and label.shape == (224, 288, 1)
    assert np.all(label[216:] == losses.IGNORE) and np.all(label[:216] == 0)
    portrait = pipeline.letterbox(image.transpose(1, 0, 2), mask.T, 256)[0]
    batches = list(pipeline.validation_dataset([image, image.transpose(1, 0, 2), image],
                                               [mask, mask.T, mask], 8))
    assert portrait.shape == (288, 224, 3)
    assert sorted(tuple(x.shape[:3]) for x, _ in batches) == [(1, 288, 224), (2, 224, 288)]


def test_video_metrics_on_a_constructed_clip():
    """Truth: a 10x10 square moving right by 2 pixels a frame. A prediction that is the truth
    shifted by one frame has a known IoU; a flickering one a known dtSSD."""
    from trainer import evaluate_video as ev

    def square(x):
        m = np.zeros((20, 40), np.float32)
        m[5:15, x:x + 10] = 1.0
        return m
    truths = [square(2 * k) for k in range(5)]
    assert ev.person_iou(square(0), square(2)) == pytest.approx(80 / 120)
    assert ev.person_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0
    # an exact prediction: IoU 1, dtSSD 0; a stable one that never moves: dtSSD of the motion
    assert ev.dtssd(truths[1], truths[0], truths[1], truths[0]) == 0.0
    still = ev.dtssd(truths[0], truths[0], truths[1], truths[0])
    assert still == pytest.approx(100 * np.sqrt(40 / 800))  # 20 pixels changed by 1 twice
    # ignored pixels count nowhere
    valid = np.ones((20, 40), bool)
    valid[:, :20] = False
    assert ev.dtssd(truths[0], truths[0], truths[1], truths[0], valid) == 0.0

    class Replay:
        def __init__(self, masks):
            self.masks = iter(masks)

        def segment(self, frame):
            return next(self.masks)
    frames = [np.zeros((20, 40, 3), np.uint8)] * 5
    exact = ev.score_stream(Replay(truths), frames, truths)
    assert exact == {"iou": 1.0, "dtssd": 0.0, "stability": pytest.approx(80 / 120), "frames": 5}
    blink = [truths[k] * (k % 2) for k in range(5)]  # the person there every other frame
    flicker = ev.score_stream(Replay(blink), frames, truths)
    assert flicker["iou"] == pytest.approx(2 / 5) and flicker["dtssd"] == pytest.approx(
        100 * np.sqrt(100 / 800))
    masked = [t.copy() for t in truths]
    masked[0][:, :] = np.nan  # an unknown frame: no pixel of it counts
    assert ev.score_stream(Replay(truths), frames, masked)["iou"] == 1.0
    # a reference through the engine's smoothing flickers less (the same frames: no scene cut)
    faint = [truths[k] * (0.4 + 0.4 * (k % 2)) for k in range(5)]
    raw = ev.score_stream(Replay(faint), frames, truths)["dtssd"]
    smoothed = ev.score_stream(ev.Smoothed(Replay(faint), SegmenterSettings(smoothing=0.5)),
                               frames, truths)["dtssd"]
    assert smoothed < 0.9 * raw


def test_the_pose_teacher_answers_through_its_pipe():
    """The client of trainer.teacher_serve against the real server loop in another process,
    with a teacher double (bright red pixels are the person): masks come back whole and in
    order; a server that stops is one clear error."""
    import io
    import sys

    from humanmatting_gui.errors import HumanMattingError
    from trainer import evaluate_video as ev
    from trainer.teacher_serve import HEADER, serve

    double = ("import sys; from trainer.teacher_serve import serve; "
              "serve(lambda rgb: None if rgb.max() == 0 else (rgb[:, :, 0] > 128).astype('float32'), "
              "sys.stdin.buffer, sys.stdout.buffer)")
    frames = [np.zeros((30, 50, 3), np.uint8) for _ in range(3)]
    frames[1][5:20, 10:30, 2] = 255  # BGR red
    frames[2][:, 40:, 2] = 255
    teacher = ev.PoseTeacher(sys.executable, ("-c", double))
    try:
        masks = [teacher.segment(f) for f in frames]
    finally:
        teacher.close()
    for frame, mask in zip(frames, masks):
        assert mask.shape == (30, 50) and mask.dtype == np.float32
        np.testing.assert_array_equal(mask, (frame[:, :, 2] > 128).astype(np.float32))
    stopped = ev.PoseTeacher(sys.executable, ("-c", "pass"))
    with pytest.raises(HumanMattingError, match="pose teacher stopped"):
        stopped.segment(frames[0])
    stopped.close()
    # the loop itself: a cut-off request ends it without an answer
    out = io.BytesIO()
    request = HEADER.pack(2, 2) + bytes(12) + HEADER.pack(2, 2) + bytes(5)
    assert serve(lambda rgb: np.ones(rgb.shape[:2], np.float32), io.BytesIO(request), out) == 1
    assert out.getvalue() == np.ones((2, 2), np.float32).tobytes()


def test_average_of_two_models_weights():
    config = likeunet.LikeUnetConfig(**TINY)
    first, second = likeunet.build_likeunet(config), likeunet.build_likeunet(config)
    for net, seed in ((first, 1), (second, 2)):
        rng = np.random.default_rng(seed)
        for w in net.weights:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
    for share in (0.0, 0.25, 1.0):
        mixed = trainer_export.average(first, second, share)
        for m, a, b in zip(mixed.weights, first.weights, second.weights):
            np.testing.assert_allclose(np.asarray(m), (1 - share) * np.asarray(a) + share * np.asarray(b),
                                       rtol=1e-6)
    assert likeunet.config_of(mixed) == config
    with pytest.raises(ValueError, match="one architecture"):
        trainer_export.average(first, likeunet.build_likeunet(likeunet.LikeUnetConfig(channels=1, **TINY)), 0.5)
    with pytest.raises(ValueError, match="share"):
        trainer_export.average(first, second, 1.5)
