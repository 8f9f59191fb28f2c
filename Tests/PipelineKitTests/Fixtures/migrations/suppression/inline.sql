ALTER TABLE orders DROP COLUMN coupon_code; -- pipeline: allow dropping-column

-- pipeline: allow renaming-column
-- (the column is only written by the batch job, deployed together with this migration)
ALTER TABLE orders
    RENAME COLUMN total TO total_cents;

-- pipeline: allow dropping-column
ALTER TABLE orders DROP COLUMN gift_note;

ALTER TABLE orders DROP COLUMN fax_number;
