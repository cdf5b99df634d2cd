"""Inputs: which datasets a pipeline wants and when they are complete."""

from dcmnode.inputs.base import Input, by_instance_number, contiguous_instance_numbers
from dcmnode.inputs.tags import resolve_tag

__all__ = ["Input", "by_instance_number", "contiguous_instance_numbers", "resolve_tag"]
