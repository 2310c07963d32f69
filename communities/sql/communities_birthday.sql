-- The day someone born on ``born`` turns ``age``; 29 February falls on 1 March in other years.
CREATE OR REPLACE FUNCTION communities_birthday(born date, age integer) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN extract(month FROM born) = 2 AND extract(day FROM born) = 29
             AND NOT (mod(extract(year FROM born)::integer + age, 4) = 0
                      AND (mod(extract(year FROM born)::integer + age, 100) <> 0
                           OR mod(extract(year FROM born)::integer + age, 400) = 0))
        THEN make_date(extract(year FROM born)::integer + age, 3, 1)
        ELSE make_date(extract(year FROM born)::integer + age, extract(month FROM born)::integer,
                       extract(day FROM born)::integer)
    END
$$;
