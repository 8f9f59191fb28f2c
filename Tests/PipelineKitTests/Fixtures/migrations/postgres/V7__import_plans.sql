-- Load the plan catalogue through a scratch table created and dropped here.
CREATE TEMP TABLE plan_import (code text, name text);
INSERT INTO plan_import VALUES ('free', 'Free'), ('team', 'Team; billed monthly');
INSERT INTO plans (code, name) SELECT code, name FROM plan_import;
DROP TABLE plan_import;
