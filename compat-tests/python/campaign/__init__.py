"""A fault campaign in the spirit of Jepsen's Kafka analyses: a workload of
real clients against a three-broker gregor cluster while a nemesis injects
faults, then a checker over everything that happened.

- `network.py`: brokers in network namespaces; cut and heal links;
- `workload.py`: the producers and consumers, writing the history;
- `nemesis.py`: one fault per round, then recovery;
- `history.py`: the event log (history.jsonl) and its format;
- `checker.py`: the anomalies a history proves;
- `runner.py`, `__main__.py`: one campaign, and its command line
  (`python -m campaign --rounds 100`).
"""
