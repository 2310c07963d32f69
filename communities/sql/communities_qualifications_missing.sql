-- The required qualification types a volunteer does not hold on ``day``: a qualification counts
-- without an end date, or ending on that day or later. In the order required; empty when none.
CREATE OR REPLACE FUNCTION communities_qualifications_missing(
    required bigint[], held bigint[], valid_until date[], day date
) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE COST 5 AS $$
DECLARE
    missing bigint[] := '{}';
    found boolean;
BEGIN
    FOR r IN 1 .. coalesce(cardinality(required), 0) LOOP
        found := false;
        FOR q IN 1 .. coalesce(cardinality(held), 0) LOOP
            IF held[q] = required[r] AND (valid_until[q] IS NULL OR valid_until[q] >= day) THEN
                found := true;
                EXIT;
            END IF;
        END LOOP;
        IF NOT found THEN
            missing := missing || required[r];
        END IF;
    END LOOP;
    RETURN missing;
END
$$;
