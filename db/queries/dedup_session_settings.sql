-- Planner and memory settings for this run's transaction: the million-row joins and the
-- band-key index build sort in memory, and a daily run's few thousand people are looked
-- up by index (cached, SSD-like costs) instead of scanning the tables they join. No JIT:
-- on a server built with LLVM, compiling the large joins costs more than running them.
SELECT set_config('work_mem', %(work_mem)s, true),
       set_config('maintenance_work_mem', %(maintenance_work_mem)s, true),
       set_config('random_page_cost', '1.1', true),
       set_config('jit', 'off', true)
