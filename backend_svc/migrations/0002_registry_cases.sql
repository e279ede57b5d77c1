-- Registry and cases: what 0001 left open.

-- Each app version keeps the title it was published with; apps.title follows the active one.
ALTER TABLE app_versions ADD COLUMN title text NOT NULL DEFAULT '';

-- A case outlives the app version it was made with (it still belongs to the app).
ALTER TABLE cases DROP CONSTRAINT cases_app_version_id_fkey,
    ADD CONSTRAINT cases_app_version_id_fkey FOREIGN KEY (app_version_id)
        REFERENCES app_versions (id) ON DELETE SET NULL;

-- A finished job outlives the cases it read and wrote; deleting a case that an unfinished job
-- needs is refused by backend before it gets here.
ALTER TABLE jobs DROP CONSTRAINT jobs_input_case_id_fkey,
    ADD CONSTRAINT jobs_input_case_id_fkey FOREIGN KEY (input_case_id)
        REFERENCES cases (id) ON DELETE SET NULL;
ALTER TABLE jobs DROP CONSTRAINT jobs_output_case_id_fkey,
    ADD CONSTRAINT jobs_output_case_id_fkey FOREIGN KEY (output_case_id)
        REFERENCES cases (id) ON DELETE SET NULL;

CREATE INDEX cases_app ON cases (app_id);
CREATE INDEX cases_shared_group ON cases (shared_group_id) WHERE shared_group_id IS NOT NULL;
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX jobs_app_version ON jobs (app_version_id);
CREATE INDEX sessions_app_version ON sessions (app_version_id);
