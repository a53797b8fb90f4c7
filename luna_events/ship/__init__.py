"""``luna-events ship``: the Python fallback shipper, shaped like a Vector topology.

sources (files, stdin) -> remap transform (parse, check, encode) -> disk buffer
(the spool) -> sink (InfluxDB 1.x, InfluxDB 2.x, a file, or a plugin), with
end-to-end acknowledgements: a source's checkpoint moves only once its lines are
acknowledged by the sink or safely in the spool.
"""
