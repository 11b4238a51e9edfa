"""Recompile every example: ../venv/bin/python compile_all.py"""
import importlib
from kfp import compiler
for mod, fn in [("p1_types_artifacts", "p1"), ("p2_control_flow", "p2"), ("p3_misc", "p3"),
                ("p4_linear", "p4"), ("p5_extras", "p5"), ("p6_conditions", "p6"), ("p7_tiny", "tiny"),
                ("p8_oneof_artifacts", "p8")]:
    m = importlib.import_module(mod)
    compiler.Compiler().compile(getattr(m, fn), f"{mod}.yaml")
    print("ok", mod)
