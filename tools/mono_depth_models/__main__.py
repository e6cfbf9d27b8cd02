"""Command line: ``python -m mono_depth_models <command>`` (cwd = tools/)."""

from __future__ import annotations

import argparse
import sys
import time

from .errors import ToolError

EPILOG_FETCH = """\
Where the trained weights come from today: the FCRN authors' own links
(campar.in.tum.de) have been dead since about 2022. The surviving copy is
their TensorFlow checkpoint NYU_FCRN-checkpoint.zip, kept by OpenVINO's Open
Model Zoo (fcrn-dp-nyu-depth-v2-tf) with its size and sha256:
  {mirror}
  ({size:,} bytes, sha256 {sha256})
It is downloaded first (resumable), its size and sha256 checked (a match
marks the model's provenance official), its structure checked (every layer
and tensor shape), then it is converted to DEST/fcrn.onnx (fp32),
DEST/fcrn_fp16.onnx and DEST/fcrn_int8.onnx. The authors' old .npy address
is tried only after the mirror:
  {npy}
Neither address could be checked from the machines this tool is built on.
Without internet access, download the zip by hand and pass it, e.g.
  cargo xtask fetch-model --checkpoint /path/to/NYU_FCRN-checkpoint.zip
"""


def _cmd_build_test_models(args) -> None:
    from .test_models import build_all

    t = time.monotonic()
    print(f"writing test models to {args.out}")
    build_all(args.out, only=args.only.split(",") if args.only else None)
    print(f"done in {time.monotonic() - t:.1f} s")


def _cmd_bench_models(args) -> None:
    from .bench_models import build_bench_models

    t = time.monotonic()
    print(f"writing benchmark models to {args.dest}")
    build_bench_models(args.dest, fp32=args.fp32, frames_dir=args.frames, force=args.force)
    print(f"done in {time.monotonic() - t:.1f} s")


def _cmd_convert(args) -> None:
    from .convert import CHECKPOINT, NPY, convert_file

    src, kind = (args.npy, NPY) if args.npy is not None else (args.checkpoint, CHECKPOINT)
    meta = convert_file(src, args.out, kind=kind, fp16=args.fp16, fuse_bn=not args.unfused)
    print(f"wrote {args.out} ({meta['mono_depth.precision']}, "
          f"{'unfused' if args.unfused else 'BN folded'}; {meta['mono_depth.weights']})")


def _cmd_fetch(args) -> None:
    from .fetch import SOURCES, fetch, probe, source_for_url

    if args.model not in (None, "fcrn"):
        from .catalogue import CATALOGUE, fetch_model, replace_url

        if args.dest is None:
            raise ToolError("fetch needs --dest DIR")
        catalogue = CATALOGUE if args.url is None else replace_url(args.model, args.url)
        print(f"wrote {fetch_model(args.model, args.dest, args.file, args.precision, catalogue)}")
        return
    if args.file is not None:
        raise ToolError("--file is for --model NAME of Depth Anything V2; FCRN takes --checkpoint or --npy")
    sources = SOURCES if args.url is None else (source_for_url(args.url, args.size, args.sha256),)
    if args.probe:
        found, why = probe(sources)
        if found is None:
            raise ToolError(f"the trained FCRN weights are not available ({why})")
        print(f"available: {found.url}")
        return
    if args.dest is None:
        raise ToolError("fetch needs --dest DIR")
    for path in fetch(args.dest, npy=args.npy, checkpoint=args.checkpoint, sources=sources):
        print(f"wrote {path}")


def _cmd_catalogue(args) -> None:
    from .catalogue import CATALOGUE, table_markdown

    if args.markdown:
        print(table_markdown())
        return
    for e in CATALOGUE.values():
        print(f"{e.name}: {e.title}\n  page {e.page}\n  licence {e.licence}; {e.parameters} parameters\n"
              f"  input {e.input}\n  output {e.output}\n  address {e.checked}")
        for f in e.files:
            size = f"about {f.approx_bytes / 1e6:.1f} MB" if f.approx_bytes else "size not recorded"
            print(f"    {f.precision:5s} {f.name}: {f.url or 'no address recorded: download from the page'} "
                  f"({size})")


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
    from .fetch import AUTHORS_NPY, MIRROR

    p = argparse.ArgumentParser(
        prog="python -m mono_depth_models",
        description="Build, convert and inspect the ONNX depth models of bevy_mono_depth.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build-test-models", help="write the random/closed-form/broken test models",
                       description="Write the test models (none of them trained) and manifest.json into --out.")
    b.add_argument("--out", required=True, metavar="DIR", help="output directory")
    b.add_argument("--only", metavar="NAME,...",
                   help="write only these models (e.g. closed_form.onnx); without the INT8 one no sample frames are needed")
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

    c = sub.add_parser("convert", help="convert the authors' FCRN weights (checkpoint or .npy) to ONNX",
                       description="Convert the authors' TensorFlow checkpoint NYU_FCRN-checkpoint.zip or their "
                                   "NYU_ResNet-UpProj.npy to ONNX (input image [1,3,228,304] RGB 0-255, output "
                                   "depth [1,1,128,160] metres). TensorFlow is not needed.")
    cs = c.add_mutually_exclusive_group(required=True)
    cs.add_argument("--checkpoint", metavar="PATH",
                    help="the TensorFlow checkpoint: NYU_FCRN-checkpoint.zip, its .index file or the checkpoint "
                         "prefix (recorded by name, size and sha256)")
    cs.add_argument("--npy", metavar="PATH",
                    help="the .npy weight file (official layout; recorded by name, size and sha256)")
    c.add_argument("--out", required=True, metavar="PATH", help="ONNX file to write")
    c.add_argument("--fp16", action="store_true", help="store weights as float16 (I/O stays float32)")
    c.add_argument("--unfused", action="store_true",
                   help="keep BatchNormalization nodes instead of folding them into the convs")
    c.set_defaults(func=_cmd_convert)

    f = sub.add_parser("fetch", help="download, check and convert the trained weights",
                       description="Download the trained FCRN weights, check them and convert them to "
                                   "DEST/fcrn.onnx, DEST/fcrn_fp16.onnx and DEST/fcrn_int8.onnx.",
                       epilog=EPILOG_FETCH.format(mirror=MIRROR.url, size=MIRROR.size, sha256=MIRROR.sha256,
                                                  npy=AUTHORS_NPY.url),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("--dest", metavar="DIR", help="where to put the download and the ONNX models")
    f.add_argument("--model", metavar="NAME", default=None,
                   help="a model of the catalogue (`catalogue` lists them; default fcrn)")
    f.add_argument("--file", metavar="PATH", default=None,
                   help="with --model: use this already downloaded ONNX file")
    f.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8", "q4"),
                   help="with --model: which published file (default fp32)")
    fs = f.add_mutually_exclusive_group()
    fs.add_argument("--checkpoint", metavar="PATH",
                    help="use this already downloaded NYU_FCRN-checkpoint.zip (or .index / prefix)")
    fs.add_argument("--npy", metavar="PATH", help="use this already downloaded NYU_ResNet-UpProj.npy")
    fs.add_argument("--probe", action="store_true",
                    help="only ask the download addresses for the file (status and size), in one line")
    # Another address instead of the built-in ones, with the size and sha256
    # to check (tests serve files locally).
    f.add_argument("--url", default=None, help=argparse.SUPPRESS)
    f.add_argument("--size", type=int, default=None, help=argparse.SUPPRESS)
    f.add_argument("--sha256", default=None, help=argparse.SUPPRESS)
    f.set_defaults(func=_cmd_fetch)

    k = sub.add_parser("catalogue", help="list the trained models fetch can get, with source and licence")
    k.add_argument("--markdown", action="store_true", help="as the README's table")
    k.set_defaults(func=_cmd_catalogue)

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
