"""Compute backends: where work runs. `local` (threads / processes) is each capability's own
default; `ray_runtime` starts or joins Ray for the capabilities that offer `runner="ray"`."""
