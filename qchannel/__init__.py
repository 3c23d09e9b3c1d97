"""qchannel: compiled-core photonic channel simulator for QKD and quantum networks.

Importing the package is cheap: the heavy modules load on first use.

* ``qchannel.load_scenario(path)``, ``qchannel.simulate(scenario)``,
  ``qchannel.run_scenario(scenario)`` (any job), ``qchannel.theory.expect``.
* Optimal source parameters: ``from qchannel.optimize import optimize``;
  ``optimize(scenario, pulses=None)`` returns ``parameters`` (scenario key ->
  value, for ``scenario.replace(**d["parameters"])``) and
  ``key_rate_per_pulse`` (CLI: ``qchannel optimize``).  It is the function
  ``qchannel.optimize.optimize``: the name ``qchannel.optimize`` is the module.
"""
__version__ = "0.1.0"

__all__ = ["load_scenario", "simulate", "run_scenario", "theory", "jobs", "Scenario",
           "__version__"]


def __getattr__(name):
    # Lazy attributes keep ``import qchannel`` well under a second.
    if name in ("load_scenario", "Scenario"):
        from qchannel import scenario

        return getattr(scenario, name)
    if name in ("simulate", "run_scenario"):
        from qchannel import runner

        return getattr(runner, name)
    if name in ("theory", "jobs"):
        import importlib

        return importlib.import_module(f"qchannel.{name}")
    raise AttributeError(f"module 'qchannel' has no attribute {name!r}")
