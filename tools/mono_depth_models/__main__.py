"""Command line: ``python -m mono_depth_models <command>`` (cwd = tools/)."""

from __future__ import annotations

import argparse
import sys
import time

from .errors import ToolError

EPILOG_FETCH = """\
The official weights are the authors' TensorFlow export of FCRN ResNet-UpProj
trained on NYU Depth v2 (Laina et al. 2016), published at
  {url}
and linked from https://github.com/iro-cp/FCRN-DepthPrediction. The file is
checked (every layer and tensor shape), then converted to DEST/fcrn.onnx (fp32)
and DEST/fcrn_fp16.onnx (weights stored as float16). Without internet access,
download the file by hand and pass it with --npy, e.g.
  cargo xtask fetch-model --npy /path/to/NYU_ResNet-UpProj.npy
"""


def _cmd_build_test_models(args) -> None:
    from .test_models import build_all

    t = time.monotonic()
    print(f"writing test models to {args.out}")
    build_all(args.out)
    print(f"done in {time.monotonic() - t:.1f} s")


def _cmd_bench_models(args) -> None:
    from .bench_models import build_bench_models

    t = time.monotonic()
    print(f"writing benchmark models to {args.dest}")
    build_bench_models(args.dest, fp32=args.fp32, frames_dir=args.frames, force=args.force)
    print(f"done in {time.monotonic() - t:.1f} s")


def _cmd_convert(args) -> None:
    from .convert import convert_npy

    meta = convert_npy(args.npy, args.out, fp16=args.fp16, fuse_bn=not args.unfused)
    print(f"wrote {args.out} ({meta['mono_depth.precision']}, "
          f"{'unfused' if args.unfused else 'BN folded'}; {meta['mono_depth.weights']})")


def _cmd_fetch(args) -> None:
    from .fetch import fetch

    for path in fetch(args.dest, npy=args.npy, url=args.url):
        print(f"wrote {path}")


def _cmd_stats(args) -> None:
    import onnx

    from .stats import report

    try:
        print(report(args.model))
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError) as e:
        raise ToolError(f"cannot read {args.model}: {e}") from None
    except Exception as e:  # protobuf DecodeError and friends
        if type(e).__name__ == "DecodeError":
            raise ToolError(f"{args.model} is not a readable ONNX model ({e})") from None
        raise


def parser() -> argparse.ArgumentParser:
    from .fetch import OFFICIAL_URL

    p = argparse.ArgumentParser(
        prog="python -m mono_depth_models",
        description="Build, convert and inspect the ONNX depth models of bevy_mono_depth.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build-test-models", help="write the random/closed-form/broken test models",
                       description="Write the test models (none of them trained) and manifest.json into --out.")
    b.add_argument("--out", required=True, metavar="DIR", help="output directory")
    b.set_defaults(func=_cmd_build_test_models)

    from .bench_models import CALIBRATION_COUNT, FP16_NAME, FP32_NAME, INT8_NAME, SAMPLE_FRAMES

    m = sub.add_parser("bench-models", help="write the FP16 and INT8 variants of the random full FCRN",
                       description=f"Write DEST/{FP16_NAME} (the random full FCRN, seed 0, weights stored "
                                   f"as float16) and DEST/{INT8_NAME} (ONNX Runtime static QDQ quantisation "
                                   f"of the FP32 model: int8 per-channel weights, uint8 activations, "
                                   f"calibrated on {CALIBRATION_COUNT} sample frames). Both keep float32 "
                                   "input and output. Files newer than their inputs are kept.")
    m.add_argument("dest", metavar="DEST", help="output directory")
    m.add_argument("--fp32", metavar="PATH", help=f"the FP32 model to quantise (default DEST/{FP32_NAME})")
    m.add_argument("--frames", metavar="DIR", default=SAMPLE_FRAMES,
                   help="folder of PNG calibration frames (default assets/samples/room/rgb)")
    m.add_argument("--force", action="store_true", help="rebuild even when the files are up to date")
    m.set_defaults(func=_cmd_bench_models)

    c = sub.add_parser("convert", help="convert the official NYU_ResNet-UpProj.npy to ONNX",
                       description="Convert the authors' NYU_ResNet-UpProj.npy to ONNX "
                                   "(input image [1,3,228,304] RGB 0-255, output depth [1,1,128,160] metres).")
    c.add_argument("--npy", required=True, metavar="PATH",
                   help="the .npy weight file (official layout; recorded by name, size and sha256)")
    c.add_argument("--out", required=True, metavar="PATH", help="ONNX file to write")
    c.add_argument("--fp16", action="store_true", help="store weights as float16 (I/O stays float32)")
    c.add_argument("--unfused", action="store_true",
                   help="keep BatchNormalization nodes instead of folding them into the convs")
    c.set_defaults(func=_cmd_convert)

    f = sub.add_parser("fetch", help="download, check and convert the official weights",
                       description="Download the official FCRN weights, check them and convert them to "
                                   "DEST/fcrn.onnx and DEST/fcrn_fp16.onnx.",
                       epilog=EPILOG_FETCH.format(url=OFFICIAL_URL),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--dest", required=True, metavar="DIR", help="where to put the .npy and the ONNX models")
    f.add_argument("--npy", metavar="PATH", help="use this already downloaded file instead of downloading")
    f.add_argument("--url", default=OFFICIAL_URL, help=argparse.SUPPRESS)
    f.set_defaults(func=_cmd_fetch)

    s = sub.add_parser("stats", help="print parameter count and multiply-adds of a model",
                       description="Print parameters and multiply-adds computed from the ONNX graph.")
    s.add_argument("model", metavar="MODEL", help="ONNX file")
    s.set_defaults(func=_cmd_stats)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
