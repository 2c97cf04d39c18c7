#!/usr/bin/env python3
"""Quantize a GGUF with llama.cpp's own quantizer, the one bundled in npm node-llama-cpp (llama_model_quantize in
libllama, through ctypes: node-llama-cpp's addon does not expose it and ships no llama-quantize binary).

Usage: llama-quantize.py <bins dir> <in.gguf> <out.gguf> <ftype number> [nthread]
  bins dir: node_modules/@node-llama-cpp/<platform>/bins/<platform> (libllama*.so, libggml*.so)
  ftype: llama_ftype (llama.h), e.g. 10 Q2_K, 12 Q3_K_M, 15 Q4_K_M, 17 Q5_K_M, 18 Q6_K, 30 IQ4_XS
The struct below is llama_model_quantize_params of llama.cpp v0.4.0 (include/llama.h of the release bundled as
node_modules/node-llama-cpp/llama/gitRelease.bundle); defaults come from llama_model_quantize_default_params().
"""
import ctypes
import glob
import os
import sys


class QuantizeParams(ctypes.Structure):
    _fields_ = [
        ("nthread", ctypes.c_int32),
        ("ftype", ctypes.c_int32),
        ("output_tensor_type", ctypes.c_int32),
        ("token_embedding_type", ctypes.c_int32),
        ("allow_requantize", ctypes.c_bool),
        ("quantize_output_tensor", ctypes.c_bool),
        ("only_copy", ctypes.c_bool),
        ("pure", ctypes.c_bool),
        ("keep_split", ctypes.c_bool),
        ("dry_run", ctypes.c_bool),
        ("imatrix", ctypes.c_void_p),
        ("kv_overrides", ctypes.c_void_p),
        ("tt_overrides", ctypes.c_void_p),
        ("prune_layers", ctypes.c_void_p),
        ("max_buf_size", ctypes.c_size_t),
    ]


def main() -> int:
    bins, src, dst, ftype = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nthread = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    # dependencies first, made global so libllama resolves its ggml symbols
    for pattern in ("libggml-base*.so", "libggml.*so", "libllama-common*.so", "libllama.*so"):
        for lib in sorted(glob.glob(os.path.join(bins, pattern))):
            handle = ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            if os.path.basename(lib).startswith("libllama.") and not os.path.basename(lib).startswith("libllama-"):
                llama = handle
    llama.llama_model_quantize_default_params.restype = QuantizeParams
    llama.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
    llama.llama_model_quantize.restype = ctypes.c_uint32
    params = llama.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = nthread
    rc = llama.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        print(f"llama_model_quantize failed with {rc}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
