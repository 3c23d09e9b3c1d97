"""Job ``qrng``: a photonic quantum random number generator -- raw bits from
simulated clicks, min-entropy from the device model and from the raw data
(NIST SP 800-90B), health tests, Toeplitz extraction
(:mod:`qchannel.qrng`).

Schema: ``[qrng]`` (:class:`qchannel.qrng.devices.QRNGDevice`: ``type``,
``split_ratio``, ``mean_photon_number``, rates, time bins, assessment and
block sizes, ``eps``), ``[detector]`` (efficiency, dark_count_prob,
afterpulse_prob, afterpulse_decay_ns, dead_time_ns) and ``[run]`` (``seed``,
``bits``: extracted output bits).  ``qchannel qrng SCENARIO --bits N --out
FILE`` writes the output bits.

Analytic twin: the raw bit rate, the bias and the model min-entropy in
closed form (beam splitter without dead time and afterpulses; arrival time
with non-paralysable dead time, without afterpulses).
"""
from qchannel.jobs import DictResult, Job, register
from qchannel.scenario import RunSection, TableScenario, reject_run_pulses

DEFAULT_BITS = 1 << 20


class QRNGScenario(TableScenario):
    job = "qrng"
    SECTIONS = ("protocol", "qrng", "detector", "run")

    @classmethod
    def parse(cls, tables):
        from qchannel.params import check_choice, check_int, check_table, reject_unknown
        from qchannel.qrng.devices import QRNGDevice
        from qchannel.qrng.generator import MAX_OUTPUT_BITS
        from qchannel.rng import SEED_MAX

        check_choice("protocol.type", tables["protocol"].get("type"), (cls.job,))
        reject_unknown("protocol", tables["protocol"], ("type",))
        reject_run_pulses(tables, cls.job, "its size is run.bits (extracted output bits)")
        run = tables.get("run", {})
        reject_unknown("run", run, ("seed", "bits"))
        check_int("run.seed", run.get("seed", 1), 0, SEED_MAX)
        check_int("run.bits", run.get("bits", DEFAULT_BITS), 1, MAX_OUTPUT_BITS)
        if "qrng" not in tables:
            raise ValueError("a qrng scenario needs a [qrng] section (type = \"beam-splitter\" "
                             "or \"arrival-time\", ...)")
        return QRNGDevice.from_tables(check_table("qrng", tables["qrng"]),
                                      check_table("detector", tables.get("detector", {})))

    @classmethod
    def run_config(cls, tables, config):
        return RunSection(seed=int(tables.get("run", {}).get("seed", 1)), pulses=None)

    @property
    def bits(self):
        return int(self._tables.get("run", {}).get("bits", DEFAULT_BITS))

    @classmethod
    def default(cls):
        return cls.from_dict({"qrng": {"type": "beam-splitter"}})


def run(scenario, progress=None, keys_out=None, out=None, bits=None):
    from qchannel.qrng.generator import generate

    n = scenario.bits if bits is None else bits
    return DictResult(generate(scenario.config, scenario.run.seed, n, out=out,
                               progress=progress))


def theory(scenario, decoy=None):
    from qchannel.qrng.devices import theory as closed_form

    if decoy is not None:
        raise ValueError("--decoy applies to decoy-bb84 scenarios, not to qrng")
    dev = scenario.config
    d = {k: float(v) for k, v in closed_form(dev).items()}
    d["type"] = dev.type
    d["model"] = ("beam splitter: per-pulse click table, no dead time or afterpulses"
                  if dev.type == "beam-splitter" else
                  "arrival time: Poisson clicks with non-paralysable dead time, no afterpulses")
    return d


def tiny(scenario):
    """Small blocks (20000 raw bits: above the compression estimate's 6000)."""
    return scenario.replace(**{"qrng.assess_bits": 20000, "qrng.block_bits": 20000,
                               "run.bits": 4000})


def report(d):
    if d["aborted"]:
        return (f"qchannel QRNG ({d['type']}): ABORTED: {d['abort_reason']}\n"
                f"  min-entropy per raw bit: assessed {d['min_entropy_per_bit']:.4f}, "
                f"model {d['min_entropy_model']:.4f}")
    h = d["health"]
    return "\n".join([
        f"qchannel QRNG ({d['type']}): {d['raw_bits']} raw bits -> {d['output_bits']} "
        f"extracted bits",
        f"  min-entropy per raw bit: assessed (SP 800-90B) {d['min_entropy_per_bit']:.4f}, "
        f"model {d['min_entropy_model']:.4f}, used {d['min_entropy_used']:.4f}",
        f"  rates: raw {d['raw_bit_rate_bps'] / 1e6:.4g} Mbit/s, extracted "
        f"{d['output_rate_bps'] / 1e6:.4g} Mbit/s (eps = {d['eps']:.3g})",
        f"  health tests (H = {h['entropy_per_bit']:.4f}): {h['rct_failures']} repetition "
        f"count and {h['apt_failures']} adaptive proportion failures in {h['apt_windows']} "
        f"windows",
    ])


register(Job(
    name="qrng",
    summary="photonic QRNG: raw bits from clicks, SP 800-90B min-entropy, Toeplitz extraction",
    schema=QRNGScenario, run=run, report=report, theory=theory,
    theory_report=lambda d: "\n".join(f"  {k} = {v}" for k, v in d.items()),
    headline=("seed", "min_entropy_per_bit", "min_entropy_model", "output_rate_bps",
              "health_failures", "aborted"),
    sweep_skip=("estimators", "clicks", "health"),
    tiny=tiny,
))
