"""The models in models/: they load, run through the command line, and find real people."""

import os

import cv2
import numpy as np
import pytest

from humanmatting_gui import cli
from humanmatting_gui.paths import models_dir
from humanmatting_gui.segmenter import Segmenter
from trainer import data, evaluate

from conftest import person_image, shared_data

SHIPPED = models_dir()


@pytest.fixture(autouse=True)
def shipped(monkeypatch):
    monkeypatch.delenv("HUMANMATTING_MODELS", raising=False)
    if not (SHIPPED / "likeunet-rgb.tflite").is_file():
        pytest.fail("models/likeunet-rgb.tflite is missing from the checkout")


@pytest.mark.parametrize("model", ["rgb", "gray"])
def test_mask_command_runs_on_the_shipped_models(tmp_path, model):
    image, _ = person_image(240, 320)
    cv2.imwrite(str(tmp_path / "in.png"), image)
    assert cli.main(["mask", str(tmp_path / "in.png"), "-o", str(tmp_path / "out"), "--model", model]) == 0
    mask = cv2.imread(str(tmp_path / "out" / "in.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (240, 320) and mask.dtype == np.uint8


@pytest.mark.data
@pytest.mark.parametrize("model", ["rgb", "gray"])
def test_shipped_models_find_real_people(model):
    folder = shared_data("portraits", "eg1800-train-846")
    pairs = data.split(data.find_pairs(folder))[1][:20]
    segmenter = Segmenter(model)
    scores = evaluate.Scores()
    for pair in pairs:
        image, truth = cv2.imread(pair.image), cv2.imread(pair.mask, cv2.IMREAD_GRAYSCALE)
        scores.add(segmenter.segment(image), truth.astype(np.float32) / 255)
    assert scores.iou > 0.85, os.path.basename(folder)
