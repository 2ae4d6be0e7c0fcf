"""What the model list says about a checkpoint: plain labels, speed, weak samples."""

from __future__ import annotations

from pathlib import Path

from genplay.core.checkpoints import CheckpointInfo, weak_samplers


def info(name: str, family: str, dataset: str, capabilities: list[str],
         shape: tuple[int, int, int] = (1, 28, 28), **metrics) -> CheckpointInfo:
    return CheckpointInfo(path=Path("/models") / name, family=family, config={}, dataset=dataset,
                          image_shape=shape, class_names=None, recipe="", training={},
                          metrics=metrics, capabilities=capabilities)


def test_labels_are_plain_words_with_the_measure_named_and_explained():
    gan = info("gan", "gan", "mnist", ["sampler"], fid=7.699, kid=0.3032)
    (label, help_text), = gan.metric_labels()
    assert label == "sample quality 7.7 (FID, lower is better)"
    assert "FID" in help_text and "KID 0.303" in help_text and "lower is better" in help_text
    assert "class by class" not in help_text
    diffusion = info("d", "diffusion", "emoji", ["sampler"], fid=19.3,
                     fid_by_class={"fid": 12.345, "guidance": 1.0})
    (label, help_text), = diffusion.metric_labels()
    assert label == "sample quality 12.3 (FID, lower is better)"  # as the panel draws
    assert "class by class (in the training images' shares) at guidance 1.0: FID 12.3" in help_text
    assert 'no class ("any"): FID 19.3' in help_text
    assert diffusion.key_metrics() == "FID 19.30, FID by class 12.35"  # genplay models
    assert gan.key_metrics() == "FID 7.70, KID 0.3032"
    vae = info("vae", "vae", "mnist", ["sampler"], elbo_bpd=3.27, iwae_bpd=3.234)
    (label, help_text), = vae.metric_labels()
    assert label == "fit to data 3.23 bits/dim (lower is better)"  # the tighter bound
    assert "bits" in help_text and "at most" in help_text
    classifier = info("classifier", "classifier", "mnist", [], test_accuracy=0.9243)
    assert classifier.metric_labels()[0][0] == "accuracy 92.4% on test images"
    upscaler = info("sr", "superres", "mnist", ["upscaler"], psnr_x2=26.9, bicubic_psnr_x2=19.3)
    assert upscaler.metric_labels()[0][0] == "x2: +7.6 dB over plain enlarging"
    assert info("new", "gan", "mnist", ["sampler"]).metric_labels() == []


def test_one_pass_samplers_are_the_fast_ones():
    assert info("g", "gan", "d", ["sampler", "latent"]).samples_in_one_pass
    assert info("v", "vae", "d", ["sampler"]).samples_in_one_pass
    assert not info("d", "diffusion", "d", ["sampler"]).samples_in_one_pass
    assert not info("p", "pixelcnn", "d", ["sampler"]).samples_in_one_pass
    assert not info("c", "classifier", "d", []).samples_in_one_pass


def test_weak_samples_are_far_from_the_best_fid_of_the_same_dataset():
    infos = [info("diffusion", "diffusion", "fashion", ["sampler"], fid=7.7),
             info("gan", "gan", "fashion", ["sampler"], fid=10.6),
             info("pixelcnn", "pixelcnn", "fashion", ["sampler"], fid=47.0),
             info("gan-m", "gan", "mnist", ["sampler"], fid=16.7),
             info("vae-m", "vae", "mnist", ["sampler"], fid=29.5),
             info("flow-m", "flow", "mnist", ["sampler"], fid=187.1),
             info("classifier", "classifier", "mnist", [], test_accuracy=0.98)]
    weak = weak_samplers(infos)
    assert {p.name: best for p, best in weak.items()} == {"pixelcnn": 7.7, "flow-m": 16.7}
    assert weak_samplers(infos[3:4]) == {}  # alone, a model is its dataset's best
    # a class-conditional model is judged by its class-by-class figure where measured (as
    # the Sampling panel draws by default); the yardstick stays the best drawn with no class
    infos.append(info("diffusion-m", "diffusion", "mnist", ["sampler"], fid=60.0,
                      fid_by_class={"fid": 4.0, "guidance": 0.0}))
    assert infos[-1].best_fid == 4.0 and infos[0].best_fid == 7.7
    weak = weak_samplers(infos)
    assert {p.name: best for p, best in weak.items()} == {"pixelcnn": 7.7, "flow-m": 16.7}
    infos[-1] = info("diffusion-m", "diffusion", "mnist", ["sampler"], fid=60.0)
    assert {p.name for p in weak_samplers(infos)} == {"pixelcnn", "flow-m", "diffusion-m"}
    # a model of another image size is judged among its own size's models only
    gan64 = info("gan-64", "gan", "mnist", ["sampler"], shape=(1, 64, 64), fid=80.0)
    assert gan64.path not in weak_samplers([*infos, gan64])  # the best of its size
    vae64 = info("vae-64", "vae", "mnist", ["sampler"], shape=(1, 64, 64), fid=30.0)
    weak = weak_samplers([*infos, gan64, vae64])
    assert weak[gan64.path] == 30.0 and vae64.path not in weak
