"""Key management entities (KMEs) serving simulated QKD keys over ETSI GS
QKD 014 v1.1.1 (REST key delivery over HTTPS with mutual TLS).

One KME per node of a scenario (``qchannel kms``); secure application
entities (SAEs) are attached to nodes by the scenario's ``[kms]`` section and
identified by their client certificate.  Each link's key pool is filled with
the final keys the real post-processing distils (:mod:`qchannel.kms.source`)
and kept, with the delivery state, in SQLite (:mod:`qchannel.kms.store`);
nodes without a common link get key by trusted-node one-time-pad relay over
the network job's widest path (:mod:`qchannel.kms.topology`).

Needs the ``kms`` extra (aiohttp, cryptography); ``import qchannel`` does
not import this package.
"""
