'use strict';
// The registering form shows the motion and referral parts only for that document type.
{
    function show() {
        const type = document.getElementById('id_document_type').value;
        for (const fieldset of document.querySelectorAll('fieldset[data-document-type]')) {
            const kind = fieldset.dataset.documentType;
            fieldset.hidden = kind !== '' && kind !== type;
        }
    }
    window.addEventListener('load', function() {
        document.getElementById('id_document_type').addEventListener('change', show);
        show();
    });
}
