"""Train a LikeUnet person-segmentation model, headless, and export its deploy files.

    python -m trainer.train --data DIR [DIR ...] --backgrounds DIR --mode rgb --out runs/rgb

Every epoch writes a backup (resume with --resume after an interrupt, exactly where the last
epoch ended), `best.keras` (best validation mIoU so far), TensorBoard logs and
`log.csv`. At the end the model is saved as `final.keras`, folded, and written as
`OUT/likeunet-MODE.keras` and `.tflite`.

Several machines (``--strategy multiworker``, one ``TF_CONFIG`` per machine; README,
"Training on several machines"): ``--batch`` is the global batch, split between the workers;
each worker draws its own random samples (seed + its index; the generator pipeline is not
auto-sharded); only the chief writes into OUT (logs, checkpoints, exports), the other workers
keep their backup in ``OUT/backup-worker-N`` and write what saving needs to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import math
import os
import shutil
import sys
from dataclasses import dataclass

import keras
import tensorflow as tf

from humanmatting_gui import model as likeunet
from humanmatting_gui.errors import HumanMattingError
from trainer import data, export, losses, multiworker, pipeline
from trainer.transfer import transfer_weights

log = logging.getLogger("trainer")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m trainer.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", required=True,
                   help="folders with images/+masks/ or the AISegment clip_img/+matting/ layout")
    p.add_argument("--backgrounds", nargs="*", default=[], help="folders of person-free scenes")
    p.add_argument("--mode", choices=("rgb", "gray"), default="rgb")
    p.add_argument("--size", type=int, default=256, help="working size, a multiple of 32")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--steps-per-epoch", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (cosine decay)")
    p.add_argument("--widths", type=int, nargs=5, default=list(likeunet.LikeUnetConfig.widths))
    p.add_argument("--blocks", type=int, nargs=4, default=list(likeunet.LikeUnetConfig.blocks))
    p.add_argument("--decoder-widths", type=int, nargs=4,
                   default=list(likeunet.LikeUnetConfig.decoder_widths))
    p.add_argument("--branches", action=argparse.BooleanOptionalAction, default=True,
                   help="train with asymmetric 1x3/3x1 branches (folded away on export)")
    p.add_argument("--out", required=True, help="run folder: checkpoints, logs, exported model")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--init-from", metavar="KERAS",
                   help="start from this model's weights: an RGB model may start a grey one, "
                        "a smaller one a wider or deeper one (grown keeping its output)")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras fit verbosity")
    p.add_argument("--negatives", type=float, default=0.0,
                   help="share of samples that are a background scene alone, mask empty")
    p.add_argument("--occluders", type=float, default=0.0, metavar="SHARE",
                   help="share of samples with bars of scene texture in front, not person "
                        "(poles, door frames)")
    p.add_argument("--motion-blur", type=float, default=0.0, metavar="SHARE",
                   help="share of samples smeared along a line, frame and mask alike")
    p.add_argument("--rotate", type=float, default=0.0, metavar="SHARE",
                   help="share of samples turned by up to --max-angle degrees (a tenth of them "
                        "upside down): limbs and bodies in unusual poses")
    p.add_argument("--max-angle", type=float, default=60.0)
    p.add_argument("--small", type=float, default=0.0, metavar="SHARE",
                   help="share of samples with the person 10-30%% of the frame high, composited")
    p.add_argument("--textures", type=float, default=0.0, metavar="SHARE",
                   help="share of composites over a colourful synthetic texture")
    p.add_argument("--ignore", action="append", default=[], metavar="FOLDER=VALUE",
                   help="in the masks of this data folder VALUE means unknown, counted nowhere "
                        "(e.g. ../shared/data/video-masks=128); a folder's labels.json says "
                        "the same")
    p.add_argument("--repeat", action="append", default=[], metavar="FOLDER=N",
                   help="sample the training pairs of this data folder N times as often "
                        "(e.g. to keep photos weighted against many video frames)")
    p.add_argument("--leave-out", metavar="NAME",
                   help="in each data folder, a file of this name lists image stems to leave out "
                        "of training, e.g. PASSERSBY.txt (photos whose masks miss people)")
    p.add_argument("--ema", type=float, metavar="MOMENTUM",
                   help="keep an exponential moving average of the weights (e.g. 0.999: about "
                        "the last 1,000 steps); validation, best.keras and the export use it")
    p.add_argument("--teacher", metavar="KERAS",
                   help="distil: blend this model's predictions on the colour frames into the "
                        "targets (an RGB teacher for a grey student)")
    p.add_argument("--teacher-weight", type=float, default=0.3,
                   help="share of the teacher in the targets, below 0.5 (default 0.3)")
    p.add_argument("--no-teacher", action="append", default=[], metavar="FOLDER",
                   help="a data folder whose samples keep their own targets with --teacher "
                        "(e.g. teacher labels the --teacher model is weak on; repeatable)")
    p.add_argument("--plain", action="append", default=[], metavar="FOLDER",
                   help="a data folder whose samples get none of the motion augmentation "
                        "(--rotate, --small, --textures, --occluders, --motion-blur): e.g. "
                        "portraits, validated as they are; repeatable")
    p.add_argument("--consistency", type=float, default=0.0, metavar="WEIGHT",
                   help="train on pairs of views of each sample (two draws of the camera's "
                        "colour and noise) and add WEIGHT x their mean squared difference to "
                        "the loss, against flicker (e.g. 2; halves the samples per batch)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.ema is not None and not 0.0 < args.ema < 1.0:
        p.error(f"--ema must lie between 0 and 1, got {args.ema}")
    try:
        args.ignore = {os.path.normpath(f): int(v) for f, v in
                       (item.rsplit("=", 1) for item in args.ignore)}
    except ValueError:
        p.error("--ignore takes FOLDER=VALUE, VALUE a mask value 0..255")
    try:
        args.repeat = {os.path.normpath(f): int(n) for f, n in
                       (item.rsplit("=", 1) for item in args.repeat)}
    except ValueError:
        p.error("--repeat takes FOLDER=N, N a whole number")
    if any(n < 1 for n in args.repeat.values()):
        p.error("--repeat takes FOLDER=N with N at least 1")
    for name in ("negatives", "occluders", "motion_blur", "rotate", "small", "textures"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            p.error(f"--{name.replace('_', '-')} is a share between 0 and 1, got {getattr(args, name)}")
    if not 0.0 < args.teacher_weight < 0.5:
        p.error(f"--teacher-weight must lie between 0 and 0.5, got {args.teacher_weight}")
    data_folders = {os.path.normpath(f) for f in args.data}
    for option in ("no_teacher", "plain"):
        unknown = {os.path.normpath(f) for f in getattr(args, option)} - data_folders
        if unknown:
            p.error(f"--{option.replace('_', '-')} names a folder not in --data: {', '.join(sorted(unknown))}")
    if args.no_teacher and not args.teacher:
        p.error("--no-teacher needs --teacher")
    if args.size % 32:
        p.error(f"--size must be a multiple of 32, got {args.size}")
    if args.consistency < 0:
        p.error(f"--consistency is a weight of at least 0, got {args.consistency}")
    if args.consistency and (args.batch % 2 or args.teacher):
        p.error("--consistency needs an even --batch and no --teacher")
    return args


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Created first, before any other TensorFlow op, as MultiWorkerMirroredStrategy requires."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":  # reads the cluster from TF_CONFIG
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("--strategy multiworker needs TF_CONFIG (the cluster and this "
                             "worker's task): see the README")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


@dataclass(frozen=True)
class Role:
    """This process's part in a (possibly multi-worker) run."""

    chief: bool = True
    index: int = 0  # among the workers, the chief 0
    workers: int = 1

    def write_dir(self, out: str) -> str:
        """Where this worker writes what it must save: OUT for the chief, else a temporary
        folder of its own (removed at the end), so that only the chief's files land in OUT."""
        return out if self.chief else os.path.join(out, f".worker-{self.index}-tmp")

    def backup_dir(self, out: str) -> str:
        return os.path.join(out, "backup" if self.chief else f"backup-worker-{self.index}")


def role(strategy) -> Role:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return Role()
    cluster = resolver.cluster_spec().as_dict()
    workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if "chief" in cluster:
        chief = resolver.task_type == "chief"
        index = 0 if chief else resolver.task_id + 1
    else:
        chief = resolver.task_type == "worker" and resolver.task_id == 0
        index = resolver.task_id
    return Role(chief, index, workers)


def weights_digest(net: keras.Model) -> str:
    """A short checksum of all weights: equal on every worker of a synchronous run."""
    h = hashlib.sha1()
    for w in net.weights:
        h.update(keras.ops.convert_to_numpy(w).tobytes())
    return h.hexdigest()[:16]


def learning_rate(epoch: int, peak: float, epochs: int, warmup: int = 2) -> float:
    """Linear warm-up, then cosine decay to 1% of the peak at the last epoch."""
    if epoch < warmup:
        return peak * (epoch + 1) / (warmup + 1)
    progress = (epoch - warmup) / max(1, epochs - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


MONITOR = "val_miou"


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the model of the best ``MONITOR`` so far at ``path``, written to a temporary
    name and renamed, so that an interrupt never leaves a truncated file."""

    def __init__(self, path: str, best: float | None = None):
        super().__init__()
        self.path, self.best = path, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(MONITOR)
        if value is not None and (self.best is None or value > self.best):
            self.best = float(value)
            likeunet.save_keras(self.model, self.path)


def best_so_far(csv_path: str) -> float | None:
    if not os.path.isfile(csv_path):
        return None
    with open(csv_path) as f:
        values = [float(row[MONITOR]) for row in csv.DictReader(f) if row.get(MONITOR)]
    return max(values) if values else None


def build(args) -> keras.Model:
    config = likeunet.LikeUnetConfig(
        channels=1 if args.mode == "gray" else 3, widths=tuple(args.widths),
        blocks=tuple(args.blocks), decoder_widths=tuple(args.decoder_widths),
        branches=args.branches)
    net = likeunet.build_likeunet(config, name=f"likeunet_{args.mode}")
    optimizer = keras.optimizers.Adam(args.lr, use_ema=args.ema is not None,
                                      ema_momentum=args.ema or 0.99)
    net.compile(optimizer=optimizer, loss=losses.matting_loss,
                metrics=[losses.PersonIoU(), losses.PersonIoU(mean=True)])
    return net


def augmentation(args) -> pipeline.Augmentation:
    return pipeline.Augmentation(negatives=args.negatives, occluders=args.occluders,
                                 motion_blur=args.motion_blur, rotate=args.rotate,
                                 max_angle=args.max_angle, small=args.small,
                                 textures=args.textures)


def _by_folder(folders: list[str], chosen: list[str], inside: float, outside: float) -> list[float]:
    chosen = {os.path.normpath(f) for f in chosen}
    return [inside if os.path.normpath(f) in chosen else outside for f in folders]


def teacher_weights(args, folders: list[str]) -> list[float]:
    """The teacher's share in the targets of each training pair, by its data folder."""
    return _by_folder(folders, args.no_teacher, 0.0, args.teacher_weight)


def motion_shares(args, folders: list[str]) -> list[float]:
    """How much of the motion augmentation each training pair gets (1 or 0), by its data folder."""
    return _by_folder(folders, args.plain, 0.0, 1.0)


def load_data(args, who: Role = Role()):
    pairs = [pair for folder in args.data
             for pair in data.find_pairs(folder, args.ignore.get(os.path.normpath(folder)))]
    train_pairs, val_pairs = data.split(pairs)
    if args.leave_out:
        train_pairs, dropped = data.leave_out(train_pairs, args.leave_out)
        log.info("left out of training, as listed in %s: %d pairs", args.leave_out, dropped)
    train, val = data.load_pairs(train_pairs), data.load_pairs(val_pairs)
    if args.repeat:
        train = data.repeat(train, args.repeat)
    backgrounds = data.load_backgrounds(args.backgrounds)
    log.info("pairs: %d train, %d validation, %d failed to load; %d backgrounds",
             len(train.images), len(val.images), train.failed + val.failed, len(backgrounds))
    grey = args.mode == "gray"
    teacher = likeunet.load_keras(args.teacher) if args.teacher else None
    # each worker its own random samples: the endless generator cannot be sharded by file,
    # and sharding by element would make every worker decode and augment everything
    train_set = pipeline.training_dataset(train.images, train.masks, backgrounds, args.batch,
                                          args.size, grey, args.seed + 1000 * who.index,
                                          augmentation(args), teacher,
                                          teacher_weights(args, train.folders),
                                          args.consistency, motion_shares(args, train.folders))
    val_set = pipeline.validation_dataset(val.images, val.masks, args.batch, grey, args.size)
    train_set = train_set.with_options(_shard(tf.data.experimental.AutoShardPolicy.OFF))
    val_set = val_set.with_options(_shard(tf.data.experimental.AutoShardPolicy.DATA))
    return train_set, val_set


def _shard(policy) -> tf.data.Options:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    return options


def callbacks(args, who: Role = Role()):
    best = best_so_far(os.path.join(args.out, "log.csv")) if args.resume else None
    # the backup comes before the EMA swap (it keeps the raw weights, to resume from); what
    # follows the swap (validation, best.keras, the logs) sees the averaged weights
    ema = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if args.ema else []
    # every worker saves (saving may need them all), but only the chief's files stay
    chief_only = [
        keras.callbacks.CSVLogger(os.path.join(args.out, "log.csv"), append=args.resume),
        keras.callbacks.TensorBoard(os.path.join(args.out, "tensorboard"), write_graph=False),
    ] if who.chief else []
    return [
        keras.callbacks.BackupAndRestore(who.backup_dir(args.out), delete_checkpoint=False),
        keras.callbacks.LearningRateScheduler(lambda e: learning_rate(e, args.lr, args.epochs)),
        *ema,
        BestCheckpoint(os.path.join(who.write_dir(args.out), "best.keras"), best),
        *chief_only,
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if os.path.isdir(os.path.join(args.out, "backup")) and not args.resume:
        print(f"error: {args.out} holds a run already; pass --resume or choose another --out",
              file=sys.stderr)
        return 2
    try:  # missing or unreadable data and model files, a model that cannot start another
        strategy = make_strategy(args.strategy)
        who = role(strategy)
        keras.utils.set_random_seed(args.seed)
        train_set, val_set = load_data(args, who)
        with strategy.scope():
            net = build(args)
            if args.init_from and not args.resume:
                transfer_weights(likeunet.load_keras(args.init_from), net)
    except (HumanMattingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if who.workers > 1:  # what fit computes on (it distributes the dataset the same way)
        first = next(iter(strategy.experimental_distribute_dataset(train_set)))[0]
        per_replica = [int(x.shape[0]) for x in strategy.experimental_local_results(first)]
        log.info("worker %d of %d%s: global batch %d, %s per replica here, %d replicas in all",
                 who.index, who.workers, " (chief)" if who.chief else "", args.batch,
                 "+".join(map(str, per_replica)), strategy.num_replicas_in_sync)
    os.makedirs(who.write_dir(args.out), exist_ok=True)  # only now: bad input leaves no empty run folder
    if args.init_from and not args.resume:
        # the exact start (a grown model's new channels are random): what trainer.export
        # --average-with needs to blend the run's end with where it began
        likeunet.save_keras(net, os.path.join(who.write_dir(args.out), "start.keras"))
    if who.workers > 1:
        multiworker.prepare(net)  # two Keras 3 bugs under MultiWorkerMirroredStrategy
    with strategy.scope():
        net.fit(train_set, validation_data=val_set, epochs=args.epochs,
                steps_per_epoch=args.steps_per_epoch, callbacks=callbacks(args, who),
                verbose=args.verbose)
    # the end of the cosine schedule is what ships; best.keras stays beside it for comparison
    target = who.write_dir(args.out)
    likeunet.save_keras(net, os.path.join(target, "final.keras"))
    for path in export.export(net, os.path.join(target, f"likeunet-{args.mode}")):
        log.info("wrote %s", path)
    log.info("final weights checksum %s", weights_digest(net))
    if not who.chief:
        shutil.rmtree(target, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
