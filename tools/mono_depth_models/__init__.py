"""Model tooling for bevy_mono_depth.

Builds the FCRN (Laina et al. 2016, ResNet-50 + up-projection) depth network as
ONNX from the authors' ``NYU_ResNet-UpProj.npy`` weights or from seeded random
weights, plus small test models whose output is known in closed form.

Run as ``python -m mono_depth_models <command>`` from the ``tools`` directory;
see ``tools/README.md``.
"""

__version__ = "0.1.0"
