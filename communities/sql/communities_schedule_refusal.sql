-- The volunteer's schedule, never waived, against their other confirmed or worked shifts nearby
-- (``busy_starts``/``busy_ends``, in start order):
--   overlapping_shift  one of them overlaps [starts, ends);
--   rest_period        one of them ends less than ``min_rest`` before this one starts, or starts
--                      less than ``min_rest`` after it ends;
--   daily_limit        on a local calendar day this shift touches, more than ``max_day_minutes``
--                      would be worked: every shift, this one included, cut at local midnights,
--                      each piece counted in whole minutes of elapsed time (where clocks change,
--                      a night has 23 or 25 hours).
-- The first that refuses, as a code, with its details: the position of the busy shift (the
-- earliest), or the day and its minutes. NULL code when none refuses.
CREATE OR REPLACE FUNCTION communities_schedule_refusal(
    starts timestamptz, ends timestamptz, busy_starts timestamptz[], busy_ends timestamptz[],
    time_zone text, min_rest interval, max_day_minutes integer,
    OUT code text, OUT busy integer, OUT day date, OUT minutes integer
)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 5 AS $$
DECLARE
    n integer := coalesce(cardinality(busy_starts), 0);
    first_day date := (starts AT TIME ZONE time_zone)::date;
    last_day date := ((ends - interval '1 microsecond') AT TIME ZONE time_zone)::date;
    span_start timestamptz;
    span_end timestamptz;
    day_start timestamptz;
    day_end timestamptz;
    too_close integer;
    same_days boolean := false;
BEGIN
    span_start := first_day::timestamp AT TIME ZONE time_zone;
    span_end := (last_day + 1)::timestamp AT TIME ZONE time_zone;
    FOR i IN 1 .. n LOOP
        IF busy_starts[i] < ends AND busy_ends[i] > starts THEN
            code := 'overlapping_shift'; busy := i;
            RETURN;
        END IF;
        IF too_close IS NULL AND busy_starts[i] < ends + min_rest AND busy_ends[i] > starts - min_rest THEN
            too_close := i;
        END IF;
        IF busy_starts[i] < span_end AND busy_ends[i] > span_start THEN
            same_days := true;
        END IF;
    END LOOP;
    IF too_close IS NOT NULL THEN
        code := 'rest_period'; busy := too_close;
        RETURN;
    END IF;
    -- No other shift on this one's days, and not longer than a day's limit on its own: no day can
    -- be over the limit.
    IF NOT same_days AND extract(epoch FROM ends - starts) / 60 <= max_day_minutes THEN
        RETURN;
    END IF;
    day := first_day;
    WHILE day <= last_day LOOP
        day_start := day::timestamp AT TIME ZONE time_zone;
        day_end := (day + 1)::timestamp AT TIME ZONE time_zone;
        minutes := floor(extract(epoch FROM least(ends, day_end) - greatest(starts, day_start)) / 60);
        FOR i IN 1 .. n LOOP
            IF busy_starts[i] < day_end AND busy_ends[i] > day_start THEN
                minutes := minutes + floor(extract(epoch FROM least(busy_ends[i], day_end)
                                                              - greatest(busy_starts[i], day_start)) / 60);
            END IF;
        END LOOP;
        IF minutes > max_day_minutes THEN
            code := 'daily_limit';
            RETURN;
        END IF;
        day := day + 1;
    END LOOP;
    day := NULL;
    minutes := NULL;
END
$$;
