"""The main job: simulate a scenario's link and run its protocol."""
from qchannel.link import LinkModel
from qchannel.protocols.decoy_bb84 import DecoyCounts, build_result
from qchannel.rng import check_seed


def build_link(scenario):
    return LinkModel(scenario.source, scenario.channel, scenario.detector)


def simulate(scenario=None, seed=None, pulses=None, progress=None):
    """Monte Carlo of the scenario's link followed by sifting and finite-key
    estimation.  ``seed`` and ``pulses`` override the scenario's [run] values.
    Returns a result whose ``to_dict()`` is the CLI's JSON report."""
    from qchannel.scenario import Scenario

    if scenario is None:
        scenario = Scenario()
    overrides = {}
    if seed is not None:
        overrides["run.seed"] = check_seed(seed)
    if pulses is not None:
        overrides["run.pulses"] = pulses
    if overrides:
        scenario = scenario.replace(**overrides)
    run = scenario.run
    counts = DecoyCounts(len(scenario.source.intensities))
    for record in build_link(scenario).blocks(run.pulses, run.seed, progress=progress):
        counts.add(record)
    return build_result(counts, scenario, run.seed)
